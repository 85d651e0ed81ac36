"""The SQLite store: documents, chunks with their embeddings, interactions and their steps.

SQLite is the source of truth; the vector index is rebuilt from the embeddings kept here.
This is the only module that writes SQL.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from docqa import owner
from docqa.errors import EmbedderMismatchError, StoreError
from docqa.records import Chunk, DocumentInfo, Hit, PassageVectors, Profile, Sentences

if TYPE_CHECKING:  # numpy is imported where vectors are handled: `docs list` needs none
    import numpy as np

_STOPWORDS = frozenset(
    (
        "a an and are as at be by did do does for from had has have how i in is it its of on or "
        "that the their there this to was were what when where which who whom why will with you "
        "your can could should would about into than then them they these those"
    ).split()
)


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class EmbedderIdentity:
    name: str
    dimension: int

    def __str__(self) -> str:
        return f"{self.name} ({self.dimension}-d)"


# The migrations of docqa.migrations, by name (tests/test_store_and_index.py checks the two
# agree). Opening a store whose schema has them all skips importing sqlite-utils, which imports
# numpy: a tenth of a second for `docqa docs list` and `--help`-like commands.
MIGRATIONS = (
    "m001_documents_and_chunks",
    "m002_interactions_and_steps",
    "m003_attempts_and_sessions",
    "m004_users_and_document_groups",
    "m005_guard_flags",
    "m006_interaction_owners",
    "m007_passage_vectors",
)

# The status readers see: a running row whose process is gone (docqa.owner) is
# "interrupted". The stored status stays "running" until `docqa doctor --repair` writes it.
_STATUS = (
    "(CASE WHEN status = 'running' AND docqa_owner_gone(owner_pid, owner_host, owner_boot,"
    " owner_start, created_at) THEN 'interrupted' ELSE status END)"
)


def _schema_is_current(conn: sqlite3.Connection) -> bool:
    try:
        rows = conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'docqa'"
        ).fetchall()
    except sqlite3.OperationalError:  # no migrations table: a new store
        return False
    return set(MIGRATIONS) <= {r[0] for r in rows}


class Store:
    """One docqa database. Open with Store.open(path); migrations run on open."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    @classmethod
    def open(cls, path: Path) -> Store:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.create_function("docqa_owner_gone", 5, owner.gone)
            store = cls(conn)
            if not _schema_is_current(conn):
                import sqlite_utils

                from docqa.migrations import migrations

                migrations.apply(sqlite_utils.Database(conn))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the docqa database {path}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot create the docqa home {path.parent}: {exc}") from exc
        return store

    def close(self) -> None:
        self.conn.close()

    # -- embedder identity -----------------------------------------------------------------
    def embedder(self) -> EmbedderIdentity | None:
        rows = dict(
            self.conn.execute(
                "SELECT key, value FROM meta WHERE key IN ('embedder_name', 'embedder_dimension')"
            ).fetchall()
        )
        if "embedder_name" not in rows:
            return None
        return EmbedderIdentity(rows["embedder_name"], int(rows["embedder_dimension"]))

    def claim_embedder(self, identity: EmbedderIdentity) -> None:
        """Record the embedder on first use; refuse a different one afterwards."""
        current = self.embedder()
        if current is None:
            with self.conn:
                self.conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("embedder_name", identity.name),
                        ("embedder_dimension", str(identity.dimension)),
                    ],
                )
            return
        self.check_embedder(identity)

    def check_embedder(self, identity: EmbedderIdentity) -> None:
        current = self.embedder()
        if current is not None and current != identity:
            raise EmbedderMismatchError(
                f"this store was built with the embedder {current}, not {identity}; "
                f"use the same --embedder, or a new --home for the other one"
            )

    # -- documents -------------------------------------------------------------------------
    def document(self, path: str) -> DocumentInfo | None:
        row = self.conn.execute(_DOC_SELECT + " WHERE path = ?", (path,)).fetchone()
        return _doc(row) if row else None

    def documents(self) -> list[DocumentInfo]:
        return [_doc(r) for r in self.conn.execute(_DOC_SELECT + " ORDER BY path")]

    def replace_document(
        self,
        *,
        path: str,
        format: str,
        title: str | None,
        sha256: str,
        size: int,
        mtime: float | None,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        groups: Sequence[str] | None = None,
        sentences: Sequence[Sentences] | None = None,
        passages: int = 0,
    ) -> tuple[list[int], list[int]]:
        """Insert or replace one document and its chunks in one transaction. `groups` are
        the groups that may read it (empty: public); None keeps a replaced document's groups
        (a new one is public). `sentences`: each chunk's sentence spans and vectors, made by
        the docqa.ingest.passages format `passages`.

        Returns (new chunk ids, removed chunk ids) for the vector index.
        """
        import numpy as np

        if len(chunks) != len(vectors) or (sentences is not None and len(sentences) != len(chunks)):
            raise ValueError("one vector, and one set of sentences, per chunk")
        vectors = np.asarray(vectors, dtype=np.float32)
        with self.conn:
            if groups is None:
                known = self.document(path)
                groups = known.groups if known is not None else ()
            old = self._delete_document(path)
            cur = self.conn.execute(
                "INSERT INTO documents (path, format, title, sha256, size, mtime, n_chunks,"
                " ingested_at, passages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (path, format, title, sha256, size, mtime, len(chunks), utcnow(), passages),
            )
            doc_id = cur.lastrowid
            new_ids = []
            for chunk, vector in zip(chunks, vectors, strict=True):
                cur = self.conn.execute(
                    "INSERT INTO chunks (document_id, seq, text, n_tokens, line_start, line_end,"
                    " page, heading, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc_id,
                        chunk.seq,
                        chunk.text,
                        chunk.n_tokens,
                        chunk.line_start,
                        chunk.line_end,
                        chunk.page,
                        chunk.heading,
                        vector.tobytes(),
                    ),
                )
                new_ids.append(int(cur.lastrowid))
            if sentences is not None:
                self.conn.executemany(
                    "INSERT INTO chunk_sentences (chunk_id, spans, vectors) VALUES (?, ?, ?)",
                    [
                        (cid, json.dumps(s.spans), np.asarray(s.vectors, np.float16).tobytes())
                        for cid, s in zip(new_ids, sentences, strict=True)
                        if s.spans
                    ],
                )
            self._write_groups(doc_id, groups)
        return new_ids, old

    def set_groups(self, path: str, groups: Sequence[str]) -> bool:
        """Set the groups of a stored document; False when it is not in the store."""
        with self.conn:
            row = self.conn.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchone()
            if row is None:
                return False
            self._write_groups(row[0], groups)
        return True

    def _write_groups(self, doc_id: int, groups: Sequence[str]) -> None:
        self.conn.execute("DELETE FROM document_groups WHERE document_id = ?", (doc_id,))
        self.conn.executemany(
            "INSERT INTO document_groups (document_id, name) VALUES (?, ?)",
            [(doc_id, g) for g in sorted(set(groups))],
        )

    # -- access ----------------------------------------------------------------------------
    def restricted(self) -> bool:
        """Whether any document is in a group (if none is, every profile reads everything)."""
        return self.conn.execute("SELECT 1 FROM document_groups LIMIT 1").fetchone() is not None

    def access_version(self) -> str:
        """A digest of every document's groups: caches of what a profile may read are keyed
        on it (re-tagging a document changes no chunk, so the fingerprint stays)."""
        rows = self.conn.execute(
            "SELECT document_id, name FROM document_groups ORDER BY document_id, name"
        ).fetchall()
        return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]

    def forbidden_chunks(self, profile: Profile) -> set[int]:
        """The chunk ids the profile may not read."""
        if not self.restricted():
            return set()
        rows = self.conn.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE NOT {_PERMITTED}",
            (json.dumps(list(profile.groups)),),
        )
        return {r[0] for r in rows}

    def permitted_embeddings(self, profile: Profile) -> tuple[list[int], np.ndarray]:
        """(chunk ids, vectors) of every chunk the profile may read: for exact search when
        the vector index's filtered search comes back short."""
        import numpy as np

        rows = self.conn.execute(
            "SELECT c.id, c.embedding FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE {_PERMITTED} ORDER BY c.id",
            (json.dumps(list(profile.groups)),),
        ).fetchall()
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        return [r[0] for r in rows], np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

    # -- users -----------------------------------------------------------------------------
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

    def remove_document(self, path: str) -> list[int]:
        """Delete a document; returns its chunk ids (empty when it was not in the store)."""
        with self.conn:
            return self._delete_document(path)

    def _delete_document(self, path: str) -> list[int]:
        row = self.conn.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchone()
        if row is None:
            return []
        ids = [
            r[0]
            for r in self.conn.execute("SELECT id FROM chunks WHERE document_id = ?", (row[0],))
        ]
        # delete chunks explicitly so the FTS triggers run for each
        self.conn.execute("DELETE FROM chunks WHERE document_id = ?", (row[0],))
        self.conn.execute("DELETE FROM documents WHERE id = ?", (row[0],))
        return ids

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state of the database (a read transaction), even
        while another process writes."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    # -- chunks ----------------------------------------------------------------------------
    def chunk_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def fingerprint(self) -> tuple[int, int, int]:
        count, total, top = self.conn.execute(
            "SELECT count(*), coalesce(sum(id), 0), coalesce(max(id), 0) FROM chunks"
        ).fetchone()
        return int(count), int(total), int(top)

    def iter_embeddings(
        self, dimension: int, batch: int = 4096
    ) -> Iterator[tuple[list[int], np.ndarray]]:
        import numpy as np

        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT id, embedding FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            ids = [r[0] for r in rows]
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            yield ids, vectors.reshape(len(rows), dimension)
            last = ids[-1]

    def hits(self, scored: Sequence[tuple[int, dict]], profile: Profile | None = None) -> list[Hit]:
        """Hits for (chunk id, score fields) pairs, in the given order; unknown ids, and
        chunks the profile may not read, are dropped."""
        ids = [cid for cid, _ in scored]
        if not ids:
            return []
        where, params = "", []
        if profile is not None:
            where, params = f" AND {_PERMITTED}", [json.dumps(list(profile.groups))]
        rows = self.conn.execute(
            "SELECT c.id, d.path, c.text, c.heading, c.line_start, c.line_end, c.page"
            " FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE c.id IN ({','.join('?' * len(ids))}){where}",
            [*ids, *params],
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        out = []
        for cid, fields in scored:
            r = by_id.get(cid)
            if r is None:
                continue
            out.append(
                Hit(
                    chunk_id=r[0],
                    path=r[1],
                    text=r[2],
                    heading=r[3],
                    line_start=r[4],
                    line_end=r[5],
                    page=r[6],
                    **fields,
                )
            )
        return out

    def passage_vectors(self, ids: Sequence[int]) -> dict[int, PassageVectors]:
        """The chunk vector, the sentence spans and vectors (none for chunks ingested before
        sentence vectors) and the document, of each chunk id given that exists."""
        import numpy as np

        if not ids:
            return {}
        rows = self.conn.execute(
            "SELECT c.id, c.embedding, s.spans, s.vectors, c.document_id FROM chunks c"
            " LEFT JOIN chunk_sentences s ON s.chunk_id = c.id"
            f" WHERE c.id IN ({','.join('?' * len(ids))})",
            list(ids),
        ).fetchall()
        out = {}
        for cid, chunk, spans, sentences, document in rows:
            vector = np.frombuffer(chunk, dtype=np.float32)
            if spans is None:
                out[cid] = PassageVectors(vector, (), None, document)
            else:
                matrix = np.frombuffer(sentences, dtype=np.float16).reshape(-1, len(vector))
                out[cid] = PassageVectors(
                    vector,
                    tuple(map(tuple, json.loads(spans))),
                    matrix.astype(np.float32),
                    document,
                )
        return out

    def lexical_search(
        self, question: str, limit: int, profile: Profile | None = None
    ) -> list[int]:
        """Chunk ids matching any of the question's words, best bm25 first; only chunks the
        profile may read (all, with no profile)."""
        return [cid for cid, _ in self.lexical_scores(question, limit, profile)]

    def lexical_scores(
        self, question: str, limit: int, profile: Profile | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, bm25 score: higher is better) of the chunks matching any of the
        question's words, best first; only chunks the profile may read."""
        words = []
        for w in re.findall(r"\w+", question.lower()):
            if w not in _STOPWORDS and w not in words:
                words.append(w)
        if not words:
            return []
        query = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        if profile is None or not self.restricted():
            rows = self.conn.execute(
                "SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ?"
                " ORDER BY bm25(chunks_fts) LIMIT ?",
                (query, limit),
            ).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT f.rowid, -bm25(chunks_fts) FROM chunks_fts f"
                " JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id"
                f" WHERE chunks_fts MATCH ? AND {_PERMITTED} ORDER BY bm25(chunks_fts) LIMIT ?",
                (query, json.dumps(list(profile.groups)), limit),
            ).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    # -- interactions ----------------------------------------------------------------------
    # An interaction row is written when a question arrives (status "running", with the
    # process that owns it) and each stage adds its step as it finishes, so an interrupted
    # answer can still be inspected.
    def begin_interaction(self, record: dict) -> int:
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

    def add_step(self, iid: int, step: dict) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT INTO steps (interaction_id, seq, stage, seconds, data)"
                " SELECT ?, COALESCE(MAX(seq) + 1, 0), ?, ?, ? FROM steps WHERE interaction_id = ?",
                (iid, step["stage"], step.get("seconds"), json.dumps(step.get("data", {})), iid),
            )

    def finish_interaction(self, iid: int, fields: dict) -> None:
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
            if session is not None and status != "error":  # claimed by claim_session
                now = utcnow()
                self.conn.execute(
                    "UPDATE sessions SET updated_at = ?, turns = turns + 1,"
                    " prompt_tokens = prompt_tokens + ?, completion_tokens = completion_tokens + ?"
                    " WHERE name = ?",
                    (now, prompt or 0, completion or 0, session),
                )

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

    def session(self, name: str) -> dict | None:
        cur = self.conn.execute("SELECT * FROM sessions WHERE name = ?", (name,))
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))

    def sample_chunks(self, limit: int, profile: Profile | None = None) -> list[tuple[str, str]]:
        """(document path, text) of up to `limit` chunks the profile may read (all, with no
        profile), in a fixed pseudo-random order spread over the corpus: the unrelated
        sentences groundedness is calibrated against."""
        where, params = "", []
        if profile is not None:
            where, params = f"WHERE {_PERMITTED}", [json.dumps(list(profile.groups))]
        rows = self.conn.execute(
            "SELECT d.path, c.text FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" {where} ORDER BY (c.id * 2654435761) % 4294967296 LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def interaction(self, iid: int) -> dict | None:
        """The whole row, with the status readers see (`interrupted` for a running row whose
        process is gone)."""
        cur = self.conn.execute(
            f"SELECT *, {_STATUS} AS shown_status FROM interactions WHERE id = ?", (iid,)
        )
        row = cur.fetchone()
        if row is None:
            return None
        found = dict(zip([d[0] for d in cur.description], row, strict=True))
        found["status"] = found.pop("shown_status")
        return found

    def interrupted_interactions(self) -> list[dict]:
        """The rows still stored as running whose process is gone, oldest first."""
        cur = self.conn.execute(
            "SELECT id, created_at, question, owner_pid, owner_host FROM interactions"
            f" WHERE status = 'running' AND {_STATUS} = 'interrupted' ORDER BY id"
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

    def list_interactions(
        self,
        *,
        user: str | None = None,
        everyone: bool = False,
        session: str | None = None,
        status: str | None = None,
        since: str | None = None,
        limit: int = 50,
    ) -> list[dict]:
        """Interactions, newest first: those of `user` (None: the anonymous ones) unless
        `everyone`, optionally of one session, with one status (as readers see it: a running
        row whose process is gone is "interrupted"), from `since` (ISO UTC) on."""
        where, params = [], []
        if not everyone:
            where.append("user IS ?")
            params.append(user)
        for column, value in (("session", session), (_STATUS, status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        cur = self.conn.execute(
            f"SELECT id, created_at, user, session, turn, kind, mode, {_STATUS} AS status,"
            " attempts, groundedness, seconds, prompt_tokens, cached_tokens, completion_tokens,"
            f" question, answer FROM interactions{clause} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def monitoring_rows(
        self, *, user: str | None = None, everyone: bool = False, limit: int = 5000
    ) -> list[dict]:
        """The latest asks (oldest first) with what monitoring reads: the question's
        embedding, outcome, flags, timings and tokens, the first retrieval's hits and the
        final attempt's grounding. Asks still being answered are left out; those whose process
        died read as "interrupted"."""
        where = f"kind = 'ask' AND {_STATUS} != 'running'"
        params: list = []
        if not everyone:
            where += " AND user IS ?"
            params.append(user)
        cur = self.conn.execute(
            f"SELECT id, created_at, user, session, turn, {_STATUS} AS status, question, answer,"
            " question_embedding, groundedness, attempts, flags, timings, prompt_tokens,"
            f" cached_tokens, completion_tokens, seconds FROM interactions WHERE {where}"
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
            r["hits"], r["grounding"] = [], None
        if not rows:
            return rows
        marks = ",".join("?" * len(by_id))
        for iid, stage, data in self.conn.execute(
            "SELECT interaction_id, stage, data FROM steps WHERE stage IN ('retrieve', 'validate')"
            f" AND interaction_id IN ({marks}) ORDER BY interaction_id, seq",
            list(by_id),
        ):
            row, d = by_id[iid], json.loads(data or "{}")
            if stage == "retrieve" and not row["hits"]:
                row["hits"] = d.get("hits", [])
            elif stage == "validate":
                row["grounding"] = d.get("grounding")
        return rows

    def chunk_vectors(self, limit: int = 5000) -> np.ndarray:
        """Up to `limit` chunk embeddings spread over the corpus (the documents' side of
        outlier scores)."""
        import numpy as np

        rows = self.conn.execute(
            "SELECT embedding FROM chunks ORDER BY (id * 2654435761) % 4294967296 LIMIT ?",
            (limit,),
        ).fetchall()
        return np.stack([np.frombuffer(r[0], dtype=np.float32) for r in rows]) if rows else None

    def chunk_paths(self, ids) -> dict[int, str]:
        ids = list(ids)
        if not ids:
            return {}
        rows = self.conn.execute(
            "SELECT c.id, d.path FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE c.id IN ({','.join('?' * len(ids))})",
            ids,
        )
        return dict(rows.fetchall())

    def steps(self, iid: int) -> list[dict]:
        cur = self.conn.execute(
            "SELECT seq, stage, seconds, data FROM steps WHERE interaction_id = ? ORDER BY seq",
            (iid,),
        )
        return [
            {"seq": s, "stage": st, "seconds": sec, "data": json.loads(d or "{}")}
            for s, st, sec, d in cur
        ]


_DOC_SELECT = (
    "SELECT id, path, format, title, sha256, size, n_chunks, ingested_at,"
    " (SELECT group_concat(name, char(31)) FROM"
    "  (SELECT name FROM document_groups g WHERE g.document_id = documents.id ORDER BY name)),"
    " passages FROM documents"
)

# The documents a profile may read, as SQL over `d` (documents): public ones (no group), and
# those sharing a group with the profile. Parameters: the profile's groups, as a JSON list.
_PERMITTED = (
    "(NOT EXISTS (SELECT 1 FROM document_groups g WHERE g.document_id = d.id)"
    " OR EXISTS (SELECT 1 FROM document_groups g WHERE g.document_id = d.id"
    " AND g.name IN (SELECT value FROM json_each(?))))"
)


def _profile(name: str, stored: str) -> Profile:
    data = json.loads(stored)
    return Profile(name, data.get("features", {}), tuple(data.get("groups", ())))


def _encode(record: dict) -> dict:
    row = dict(record)
    for key in ("citations", "timings", "flags"):
        if key in row and not isinstance(row[key], (str, type(None))):
            row[key] = json.dumps(row[key])
    return row


def _doc(row: tuple) -> DocumentInfo:
    return DocumentInfo(
        id=row[0],
        path=row[1],
        format=row[2],
        title=row[3],
        sha256=row[4],
        size=row[5],
        chunks=row[6],
        ingested_at=row[7],
        groups=tuple(row[8].split("\x1f")) if row[8] else (),
        passages=row[9],
    )
