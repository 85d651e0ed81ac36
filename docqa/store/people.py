"""The people who ask: users (their features and groups) and their named sessions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from docqa.records import Profile
from docqa.store.sql import utcnow


class People:
    """Users and sessions, on the store's connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- users ------------------------------------------------------------------------
    def set_user(self, name: str, features: dict, groups: Sequence[str]) -> None:
        data = json.dumps({"features": features, "groups": sorted(set(groups))})
        now = utcnow()
        with self.conn:
            self.conn.execute(
                "INSERT INTO users (name, features, created_at, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET features = excluded.features,"
                " updated_at = excluded.updated_at",
                (name, data, now, now),
            )

    def user(self, name: str) -> Profile | None:
        row = self.conn.execute("SELECT name, features FROM users WHERE name = ?", (name,))
        found = row.fetchone()
        return _profile(*found) if found else None

    def users(self) -> list[Profile]:
        rows = self.conn.execute("SELECT name, features FROM users ORDER BY name")
        return [_profile(*r) for r in rows]

    def remove_user(self, name: str) -> bool:
        with self.conn:
            cur = self.conn.execute("DELETE FROM users WHERE name = ?", (name,))
        return cur.rowcount > 0

    # -- sessions ---------------------------------------------------------------------
    def claim_session(self, name: str, user: str | None) -> dict:
        """The session's row, created for `user` if it is new (so that two people starting
        the same name at once cannot both own it); the caller checks the owner."""
        now = utcnow()
        with self.conn:
            self.conn.execute(
                "INSERT INTO sessions (name, user, created_at, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(name) DO NOTHING",
                (name, user, now, now),
            )
        return self.session(name)  # type: ignore[return-value]

    def session(self, name: str) -> dict | None:
        cur = self.conn.execute("SELECT * FROM sessions WHERE name = ?", (name,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def count_turn(self, name: str, prompt_tokens: int, completion_tokens: int) -> None:
        """Add one answered turn to a session's totals; the caller holds the transaction
        (the journal, finishing the turn's interaction)."""
        self.conn.execute(
            "UPDATE sessions SET updated_at = ?, turns = turns + 1,"
            " prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?"
            " WHERE name = ?",
            (utcnow(), prompt_tokens, completion_tokens, name),
        )


def _profile(name: str, stored: str) -> Profile:
    data = json.loads(stored)
    return Profile(name, data.get("features", {}), tuple(data.get("groups", ())))
