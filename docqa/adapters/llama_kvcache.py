"""A persistent cache of KV states for prompt prefixes, so a new process restores a template's
static prefix instead of prefilling it again.

Files live in DOCQA_HOME/cache, one per (model, exact prefix tokens), holding the KV state
without the logits array (a few MB instead of ~100). Each file carries a header that names
its model and token count and a checksum of its payload; a file that does not match is
deleted and rebuilt, never trusted. The folder is kept under a size bound by evicting the
least recently used files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import time
from pathlib import Path

MAGIC = b"DOCQAKV1"


class PrefixCache:
    def __init__(self, directory: Path, max_bytes: int = 512 * 1024 * 1024):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    @staticmethod
    def payload(data: bytes) -> bytes | None:
        """A file's KV state if its header parses and its checksum holds, else None (whatever
        model or prefix it is for)."""
        return _check(data, None, None)

    def path_for(self, model_key: str, tokens: list[int]) -> Path:
        h = hashlib.sha256(model_key.encode())
        h.update(struct.pack(f"<{len(tokens)}i", *tokens))
        return self.directory / f"{h.hexdigest()[:40]}.kv"

    def load(self, engine, tokens: list[int]) -> bool:
        """Restore the KV state of `tokens` into the engine; False when there is none (or a
        bad one, which is removed)."""
        path = self.path_for(engine.key, tokens)
        try:
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return False
        payload = _check(data, engine.key, tokens)
        if payload is None or not engine.load_state(payload, tokens):
            path.unlink(missing_ok=True)
            self.misses += 1
            return False
        # recently used (if another process evicted it meanwhile, the state is loaded anyway)
        with contextlib.suppress(OSError):
            os.utime(path)
        self.hits += 1
        return True

    def save(self, engine, tokens: list[int]) -> Path | None:
        """Write the engine's current KV state (which must hold exactly `tokens`)."""
        payload = engine.save_state()
        header = json.dumps(
            {
                "model": engine.key,
                "n_tokens": len(tokens),
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
        ).encode()
        path = self.path_for(engine.key, tokens)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(MAGIC + struct.pack("<I", len(header)) + header + payload)
            os.replace(tmp, path)
            self._evict(keep=path)
        except OSError:
            return None  # a cache that cannot be written is only slower, never fatal
        return path

    def _evict(self, keep: Path) -> None:
        for stale in self.directory.glob("*.tmp*"):  # left by a process that died mid-write
            try:
                if stale.stat().st_mtime < time.time() - 3600:
                    stale.unlink()
            except OSError:
                pass
        files = sorted(self.directory.glob("*.kv"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for p in files:
            if total <= self.max_bytes:
                break
            if p == keep:
                continue
            total -= p.stat().st_size
            p.unlink(missing_ok=True)


def _check(data: bytes, model_key: str | None, tokens: list[int] | None) -> bytes | None:
    """The payload of a cache file, if it is one for `model_key` and `tokens` (None: any)."""
    try:
        if not data.startswith(MAGIC):
            return None
        (n,) = struct.unpack_from("<I", data, len(MAGIC))
        start = len(MAGIC) + 4
        header = json.loads(data[start : start + n])
        payload = data[start + n :]
        if (
            (model_key is not None and header.get("model") != model_key)
            or (tokens is not None and header.get("n_tokens") != len(tokens))
            or header.get("sha256") != hashlib.sha256(payload).hexdigest()
        ):
            return None
        return payload
    except (ValueError, struct.error, AttributeError, TypeError):
        return None
