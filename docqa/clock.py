"""How long this process has been running, for the cost of starting up (Linux /proc)."""

from __future__ import annotations

import os
from pathlib import Path

_reported = False


def process_age() -> float | None:
    """Seconds since this process started (10 ms resolution), or None where /proc has no
    answer."""
    from docqa.owner import start_ticks

    started = start_ticks(os.getpid())
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if started is None:
        return None
    return max(0.0, uptime - started / os.sysconf("SC_CLK_TCK"))


def startup() -> float | None:
    """The process's age the first time this is asked (when the first question begins), and
    None after: later questions in the same process did not pay for start-up."""
    global _reported
    if _reported:
        return None
    _reported = True
    return process_age()
