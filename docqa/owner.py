"""Which process owns a running interaction, and whether that process is still alive.

An interaction is recorded as `running` when its question arrives and finished with its
answer; a process that dies in between (a crash, SIGKILL, power loss) never finishes it. So
each row records its owner: the pid and host name, and on Linux the boot id and the
process's start time (field 22 of /proc/PID/stat, clock ticks after boot), which tell a
reboot and a reused pid apart from the process that began the answer. Readers show a
running row whose owner is gone as `interrupted`.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# A running row whose owner cannot be checked from here (written by a docqa from before
# owners were recorded, or by a process on another host sharing the store) counts as
# interrupted once it is this old: no answer takes an hour.
UNCHECKABLE_AFTER = timedelta(hours=1)

_PROC = Path("/proc")


@dataclass(frozen=True)
class Owner:
    pid: int
    host: str
    boot: str | None = None  # /proc/sys/kernel/random/boot_id; None without /proc
    start: int | None = None  # clock ticks after boot when the process started

    def columns(self) -> dict:
        """The interaction row's columns that record this owner."""
        return {
            "owner_pid": self.pid,
            "owner_host": self.host,
            "owner_boot": self.boot,
            "owner_start": self.start,
        }


def current() -> Owner:
    """This process."""
    return _owner_of_pid(os.getpid())  # keyed on the pid: a forked child is another owner


@functools.cache
def _owner_of_pid(pid: int) -> Owner:
    boot = _boot_id()
    start = start_ticks(pid) if boot is not None else None
    return Owner(pid, _host(), boot if start is not None else None, start)


def of_process(pid: int) -> Owner | None:
    """The owner record of a live process on this host (None: no such process)."""
    boot, start = _boot_id(), start_ticks(pid)
    if boot is not None and start is not None:
        return Owner(pid, _host(), boot, start)
    return Owner(pid, _host()) if _signal_alive(pid) else None


def alive(owner: Owner) -> bool | None:
    """Whether the owner is still running; None when this process cannot tell (another host,
    or no way to ask on this platform)."""
    if owner.host != _host():
        return None
    if owner.boot is not None and owner.start is not None and _boot_id() is not None:
        # a new boot id: the machine restarted since; another start time: the pid was reused
        return owner.boot == _boot_id() and start_ticks(owner.pid) == owner.start
    return _signal_alive(owner.pid)


def gone(
    pid: int | None,
    host: str | None,
    boot: str | None,
    start: int | None,
    created_at: str | None,
    now: datetime | None = None,
) -> bool:
    """Whether the process that began a running row is gone (the row's columns, as the
    store's SQL function `docqa_owner_gone` passes them)."""
    try:
        verdict = alive(Owner(int(pid), host or "", boot, start)) if pid is not None else None
        if verdict is not None:
            return not verdict
        return _age(created_at, now or datetime.now(UTC)) > UNCHECKABLE_AFTER
    except Exception:  # an SQL function must not raise; a row we cannot judge stays running
        return False


def _age(created_at: str | None, now: datetime) -> timedelta:
    if not created_at:
        return timedelta(0)
    when = datetime.fromisoformat(created_at)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return now - when


@functools.cache
def _host() -> str:
    return socket.gethostname()


@functools.cache
def _boot_id() -> str | None:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def start_ticks(pid: int) -> int | None:
    """When the process started, in clock ticks after boot (field 22 of /proc/PID/stat);
    None without /proc or when there is no such live process (a zombie has exited: it only
    waits for its parent to read its status)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces and parentheses
    fields = stat[stat.rfind(")") + 1 :].split()
    if len(fields) < 20 or fields[0] in ("Z", "X", "x") or not fields[19].isdigit():
        return None
    return int(fields[19])


def _signal_alive(pid: int) -> bool | None:
    if pid <= 0:  # os.kill would signal a process group
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process there
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to another user
        return True
    except OSError:
        return None
    return True
