"""The journal: every interaction (a question and its outcome) and the steps it went
through, written as they happen, and the queries that read them back (log, trace, monitoring,
the guard's reference, a session's turns).

An interaction row is written when a question arrives (status "running", with the process
that owns it) and each stage adds its step as it finishes, so an interrupted answer can still
be inspected.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3

from docqa import owner
from docqa.journal import JSON_COLUMNS, Retrieve, Step, Validate, read_data
from docqa.store.feedback import VERDICT, VERDICT_NOTE
from docqa.store.people import People
from docqa.store.sql import utcnow

# The status readers see: a running row whose process is gone (docqa.owner) is
# "interrupted". The stored status stays "running" until `docqa doctor --repair` writes it.
STATUS = (
    "(CASE WHEN status = 'running' AND docqa_owner_gone(owner_pid, owner_host, owner_boot,"
    " owner_start, created_at) THEN 'interrupted' ELSE status END)"
)


class Journal:
    """Interactions and their steps, on the store's connection."""

    def __init__(self, conn: sqlite3.Connection, people: People):
        self.conn, self.people = conn, people

    # -- writing ----------------------------------------------------------------------
    def begin(self, record: dict) -> int:
        row = _encode(record)
        row.setdefault("created_at", utcnow())
        row.setdefault("status", "running")
        for column, value in owner.current().columns().items():
            row.setdefault(column, value)
        cols = list(row)
        with self.conn:
            cur = self.conn.execute(
                f"INSERT INTO interactions ({', '.join(cols)})"
                f" VALUES ({', '.join('?' * len(cols))})",
                [row[c] for c in cols],
            )
        return int(cur.lastrowid)

    def add_step(self, iid: int, step: Step) -> None:
        data = json.dumps(step.data.to_json())
        with self.conn:
            self.conn.execute(
                "INSERT INTO steps (interaction_id, seq, stage, seconds, data)"
                " SELECT ?, COALESCE(MAX(seq) + 1, 0), ?, ?, ? FROM steps WHERE interaction_id = ?",
                (iid, step.stage, step.seconds, data, iid),
            )

    def finish(self, iid: int, fields: dict) -> None:
        """Record the outcome; a session's turn also updates the session's totals."""
        row = _encode(fields)
        with self.conn:
            if row:
                self.conn.execute(
                    f"UPDATE interactions SET {', '.join(f'{c} = ?' for c in row)} WHERE id = ?",
                    [*row.values(), iid],
                )
            session, status, prompt, completion = self.conn.execute(
                "SELECT session, status, prompt_tokens, completion_tokens"
                " FROM interactions WHERE id = ?",
                (iid,),
            ).fetchone()
            if session is not None and status != "error":  # claimed by People.claim_session
                self.people.count_turn(session, prompt or 0, completion or 0)

    # -- reading ----------------------------------------------------------------------
    def interaction(self, iid: int) -> dict | None:
        """The whole row as stored, with the status readers see (`interrupted` for a running
        row whose process is gone)."""
        cur = self.conn.execute(
            f"SELECT *, {STATUS} AS shown_status FROM interactions WHERE id = ?", (iid,)
        )
        row = cur.fetchone()
        if row is None:
            return None
        found = dict(zip([d[0] for d in cur.description], row, strict=True))
        found["status"] = found.pop("shown_status")
        return found

    def record(self, iid: int) -> dict | None:
        """The row as `interaction` reads it, its JSON columns decoded (`trace`)."""
        found = self.interaction(iid)
        if found is None:
            return None
        for column in JSON_COLUMNS:
            if isinstance(found.get(column), str):
                found[column] = json.loads(found[column])
        if isinstance(found.get("raw_output"), str):
            with contextlib.suppress(ValueError):  # older records hold plain text
                found["raw_output"] = json.loads(found["raw_output"])
        return found

    def steps(self, iid: int) -> list[Step]:
        cur = self.conn.execute(
            "SELECT seq, stage, seconds, data FROM steps WHERE interaction_id = ? ORDER BY seq",
            (iid,),
        )
        return [Step(read_data(st, json.loads(d or "{}")), sec, s) for s, st, sec, d in cur]

    def interactions(
        self,
        *,
        user: str | None = None,
        everyone: bool = False,
        session: str | None = None,
        status: str | None = None,
        since: str | None = None,
        feedback: str | None = None,
        limit: int = 50,
    ) -> list[dict]:
        """Interactions, newest first: those of `user` (None: the anonymous ones) unless
        `everyone`, optionally of one session, with one status (as readers see it: a running
        row whose process is gone is "interrupted"), from `since` (ISO UTC) on, with one
        verdict (`feedback`: "good", "bad", or "none" for the unrated)."""
        where, params = [], []
        if not everyone:
            where.append("user IS ?")
            params.append(user)
        for column, value in (("session", session), (STATUS, status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if feedback == "none":
            where.append(f"{VERDICT} IS NULL")
        elif feedback is not None:
            where.append(f"{VERDICT} = ?")
            params.append(feedback)
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        cur = self.conn.execute(
            f"SELECT id, created_at, user, session, turn, kind, mode, {STATUS} AS status,"
            " attempts, groundedness, seconds, prompt_tokens, cached_tokens, completion_tokens,"
            f" question, answer, {VERDICT} AS feedback FROM interactions{clause}"
            " ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def session_turns(self, name: str, limit: int, user: str | None) -> list[dict]:
        """The last `limit` answered turns of `user` in a session, oldest first, with the
        chunk ids each answer cited."""
        rows = self.conn.execute(
            "SELECT id, question, answer, status, turn, citations FROM interactions"
            " WHERE session = ? AND user IS ? AND status NOT IN ('running', 'error', 'interrupted')"
            " ORDER BY id DESC LIMIT ?",
            (name, user, limit),
        ).fetchall()
        return [
            {
                "id": r[0],
                "question": r[1],
                "answer": r[2],
                "status": r[3],
                "turn": r[4],
                "chunks": [c["chunk_id"] for c in json.loads(r[5] or "[]")],
            }
            for r in reversed(rows)
        ]

    def outlier_scores(self, limit: int = 500) -> list[float]:
        """The outlier scores of the latest answered questions that were not outliers
        themselves: the guard's reference."""
        rows = self.conn.execute(
            "SELECT outlier_score FROM interactions WHERE outlier_score IS NOT NULL"
            " AND status NOT IN ('running', 'error', 'withheld', 'interrupted')"
            " AND coalesce(json_extract(flags, '$.outlier.flagged'), 0) = 0"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [r[0] for r in rows]

    def monitoring_rows(
        self, *, user: str | None = None, everyone: bool = False, limit: int = 5000
    ) -> list[dict]:
        """The latest asks (oldest first) with what monitoring reads: the question's
        embedding, outcome, flags, timings and tokens, its verdict and the verdict's note
        (docqa.store.feedback: the latest given), the first retrieval's hits
        (docqa.journal.RetrievedHit) and the final attempt's grounding. Asks still being
        answered are left out; those whose process died read as "interrupted"."""
        where = f"kind = 'ask' AND {STATUS} != 'running'"
        params: list = []
        if not everyone:
            where += " AND user IS ?"
            params.append(user)
        cur = self.conn.execute(
            f"SELECT id, created_at, user, session, turn, {STATUS} AS status, question, answer,"
            " question_embedding, groundedness, attempts, flags, timings, prompt_tokens,"
            f" cached_tokens, completion_tokens, seconds, {VERDICT} AS feedback,"
            f" {VERDICT_NOTE} AS feedback_note FROM interactions WHERE {where}"
            " ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur]
        rows.reverse()
        by_id = {r["id"]: r for r in rows}
        for r in rows:
            r["flags"] = json.loads(r["flags"]) if r["flags"] else {}
            r["timings"] = json.loads(r["timings"]) if r["timings"] else {}
            r["hits"], r["grounding"] = (), None
        if not rows:
            return rows
        marks = ",".join("?" * len(by_id))
        # only the steps read here are parsed: each ask's first retrieval and last validation
        for iid, stage, data in self.conn.execute(
            "SELECT interaction_id, stage, data FROM (SELECT interaction_id, stage, data,"
            " row_number() OVER (PARTITION BY interaction_id, stage"
            " ORDER BY CASE stage WHEN 'retrieve' THEN seq ELSE -seq END) AS nth"
            " FROM steps WHERE stage IN ('retrieve', 'validate')"
            f" AND interaction_id IN ({marks})) WHERE nth = 1",
            list(by_id),
        ):
            step = read_data(stage, json.loads(data or "{}"))
            if isinstance(step, Retrieve):
                by_id[iid]["hits"] = step.hits
            elif isinstance(step, Validate):
                by_id[iid]["grounding"] = step.grounding
        return rows

    def interrupted(self) -> list[dict]:
        """The rows still stored as running whose process is gone, oldest first."""
        cur = self.conn.execute(
            "SELECT id, created_at, question, owner_pid, owner_host FROM interactions"
            f" WHERE status = 'running' AND {STATUS} = 'interrupted' ORDER BY id"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur]

    def mark_interrupted(self, errors: dict[int, str]) -> list[int]:
        """Store status "interrupted" with the given error text on these rows, if they are
        still running; returns the ids marked."""
        marked = []
        with self.conn:
            for iid, error in errors.items():
                cur = self.conn.execute(
                    "UPDATE interactions SET status = 'interrupted', error = ?"
                    " WHERE id = ? AND status = 'running'",
                    (error, iid),
                )
                if cur.rowcount:
                    marked.append(iid)
        return marked


def _encode(record: dict) -> dict:
    row = dict(record)
    for key in JSON_COLUMNS:
        if key in row and not isinstance(row[key], (str, type(None))):
            row[key] = json.dumps(row[key])
    return row
