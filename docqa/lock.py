"""One writer at a time: commands that change the store and its index (ingest, docs rm, doctor
--repair) hold an exclusive lock on DOCQA_HOME/write.lock while they run. Readers (ask,
search, chat) never wait for it: SQLite's WAL gives them a consistent snapshot, and they write
the derived index file only when they can take the lock at once.

The lock is an advisory `flock` on an open file, so the kernel releases it when its process
dies, however it dies: a killed ingest never leaves the store locked.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from docqa.errors import StoreBusyError

LOCK_FILE = "write.lock"


def _try(fd: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return "another docqa process"
    return f"docqa process {pid}" if pid else "another docqa process"


@contextlib.contextmanager
def _lock_file(home: Path) -> Iterator[tuple[int, Path]]:
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        yield fd, path
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _claim(fd: int) -> None:
    """Say who holds the lock (the message a waiting writer shows)."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)


@contextlib.contextmanager
def write_lock(
    home: Path, wait: float | None = None, waiting: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the store's write lock. `wait`: seconds to wait for it (None: as long as it takes);
    `waiting` is told once, with who holds it, when the wait begins. Raises StoreBusyError
    when the wait runs out."""
    with _lock_file(home) as (fd, path):
        if not _try(fd):
            holder = _holder(path)
            if waiting is not None and wait != 0:
                waiting(holder)
            deadline = None if wait is None else time.monotonic() + wait
            while not _try(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    raise StoreBusyError(
                        f"the store in {home} is busy: {holder} is changing it "
                        "(ingest, docs rm or doctor --repair); try again when it is done"
                    )
                time.sleep(0.1)
        _claim(fd)
        yield


@contextlib.contextmanager
def try_write_lock(home: Path) -> Iterator[bool]:
    """The write lock if it is free right now (True), else nothing (False); never waits."""
    with _lock_file(home) as (fd, _):
        got = _try(fd)
        if got:
            _claim(fd)
        yield got
