"""`KEY=VALUE` and `KEY:=JSON` on the command line (`run --var`, `users set`)."""

from __future__ import annotations


def split_assignment(item: str) -> tuple[str, str, bool] | None:
    """(key, value text, typed): typed is True for KEY:=JSON, whose value is JSON text;
    None when `item` has no `=` at all."""
    if "=" not in item:
        return None
    typed = item.split("=", 1)[0].endswith(":")
    key, _, value = item.partition(":=" if typed else "=")
    return key, value, typed
