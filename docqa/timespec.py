"""Points in time as people write them on a command line: `--since 2h`, `--since 2026-11-01`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from docqa.errors import UsageError

_AGO = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> str:
    """An ISO-8601 UTC timestamp (as the store writes them) for `30m`, `2h`, `7d`, `1w`, or
    an ISO date or date-time (local times are taken as UTC)."""
    now = now or datetime.now(UTC)
    text = text.strip()
    m = _AGO.match(text)
    if m:
        moment = now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(
                f"--since wants a duration (30m, 2h, 7d, 1w) or an ISO date, not {text!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
