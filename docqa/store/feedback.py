"""Feedback: the verdicts people give answers (good or bad, with a note), one per answer and
rater, and the answer's verdict that the log and the monitor read (the latest one given)."""

from __future__ import annotations

import sqlite3

from docqa.store.sql import utcnow

COLUMNS = "interaction_id, user, verdict, note, created_at"

# An interaction's verdict, for a query over `interactions`: the latest given, by anyone who
# may rate it (the asker, or the store's owner with --all-users); NULL when it has none.
VERDICT = (
    "(SELECT verdict FROM feedback WHERE feedback.interaction_id = interactions.id"
    " ORDER BY feedback.created_at DESC, feedback.id DESC LIMIT 1)"
)
VERDICT_NOTE = (
    "(SELECT note FROM feedback WHERE feedback.interaction_id = interactions.id"
    " ORDER BY feedback.created_at DESC, feedback.id DESC LIMIT 1)"
)


class Feedback:
    """Verdicts on answers, on the store's connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def rate(
        self, iid: int, user: str | None, verdict: str, note: str | None
    ) -> tuple[dict, dict | None]:
        """Record `user`'s verdict on interaction `iid`, replacing their earlier one; returns
        (the verdict as stored, the one it replaced or None)."""
        with self.conn:
            previous = self._find(iid, user)
            self.conn.execute(
                f"INSERT INTO feedback ({COLUMNS}) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (interaction_id, coalesce(user, '')) DO UPDATE SET"
                " verdict = excluded.verdict, note = excluded.note,"
                " created_at = excluded.created_at",
                (iid, user, verdict, note, utcnow()),
            )
            saved = self._find(iid, user)
        assert saved is not None  # written just now, in the same transaction
        return saved, previous

    def of(self, iid: int) -> list[dict]:
        """Every verdict on interaction `iid`, newest first."""
        cur = self.conn.execute(
            f"SELECT {COLUMNS} FROM feedback WHERE interaction_id = ?"
            " ORDER BY created_at DESC, id DESC",
            (iid,),
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur]

    def _find(self, iid: int, user: str | None) -> dict | None:
        cur = self.conn.execute(
            f"SELECT {COLUMNS} FROM feedback WHERE interaction_id = ? AND user IS ?", (iid, user)
        )
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))
