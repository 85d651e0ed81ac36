"""The feature store: user profiles, their typed features and their groups.

A feature is `KEY=VALUE` (a string) or `KEY:=JSON` (a number, a string or a list of
strings); `KEY=` removes it. The feature `groups` lists the groups whose documents the user
may read (`groups=legal,hr` is the list ["hr", "legal"]).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence

from docqa.assignments import split_assignment
from docqa.errors import UsageError
from docqa.records import ANONYMOUS, Profile
from docqa.store import Store

NAME = re.compile(r"^[\w.@-]{1,64}$")
GROUP = re.compile(r"^[\w.-]{1,64}$")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RESERVED = {"name"}  # the `user` template variable's own field
MAX_STRING = 500
MAX_ITEMS = 100


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise UsageError(
            f"invalid user name {name!r}: 1 to 64 letters, digits or . _ @ - characters"
        )
    return name


def check_groups(groups: Sequence[str]) -> tuple[str, ...]:
    for g in groups:
        if not isinstance(g, str) or not GROUP.match(g):
            raise UsageError(f"invalid group {g!r}: 1 to 64 letters, digits or . _ - characters")
    return tuple(sorted(set(groups)))


def parse_features(assignments: Sequence[str]) -> dict[str, object]:
    """{key: value} from KEY=VALUE / KEY:=JSON / KEY= (value None: remove the key)."""
    changes: dict[str, object] = {}
    for item in assignments:
        parts = split_assignment(item)
        if parts is None:
            raise UsageError(f"expected KEY=VALUE or KEY:=JSON, got {item!r}")
        key, raw, typed = parts
        key = key.strip()
        if not KEY.match(key) or key in RESERVED:
            raise UsageError(
                f"invalid feature name {key!r}: a lower-case letter, then letters, digits or _"
                f" (at most 40){'; `name` is reserved' if key in RESERVED else ''}"
            )
        if typed:
            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise UsageError(f"feature {key}: invalid JSON {raw!r} ({exc})") from exc
        else:
            value = raw if raw != "" else None
        if key == "groups" and isinstance(value, str):
            value = [g.strip() for g in value.split(",") if g.strip()]
        changes[key] = None if value is None else _check_value(key, value)
    return changes


def _check_value(key: str, value: object) -> object:
    if key == "groups":
        if not isinstance(value, list):
            raise UsageError("feature groups: a list of group names (groups=a,b)")
        return list(check_groups(value))
    if isinstance(value, bool) or value is None:
        raise UsageError(f"feature {key}: a string, a number or a list of strings, not {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise UsageError(f"feature {key}: the number must be finite")
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING or any(not c.isprintable() for c in value):
            raise UsageError(f"feature {key}: at most {MAX_STRING} printable characters")
        return value
    if isinstance(value, list):
        if len(value) > MAX_ITEMS or not all(isinstance(v, str) for v in value):
            raise UsageError(f"feature {key}: a list of at most {MAX_ITEMS} strings")
        for v in value:
            _check_value(key, v)
        return value
    raise UsageError(f"feature {key}: a string, a number or a list of strings")


def set_features(store: Store, name: str, assignments: Sequence[str]) -> Profile:
    """Create the user or change their features; returns the new profile."""
    check_name(name)
    changes = parse_features(assignments)
    current = store.people.user(name) or Profile(name)
    features = dict(current.features)
    groups = list(current.groups)
    for key, value in changes.items():
        if key == "groups":
            groups = list(value) if value is not None else []  # type: ignore[arg-type]
        elif value is None:
            features.pop(key, None)
        else:
            features[key] = value
    store.people.set_user(name, features, groups)
    return store.people.user(name)  # type: ignore[return-value]


def profile(store: Store, name: str | None) -> Profile:
    """The profile of the user asking: the anonymous one (public documents only) for None."""
    if name is None:
        return ANONYMOUS
    found = store.people.user(check_name(name))
    if found is None:
        raise UsageError(
            f"unknown user {name!r}: create it with `docqa users set {name} KEY=VALUE...`"
            " (`docqa users list` shows who exists)"
        )
    return found
