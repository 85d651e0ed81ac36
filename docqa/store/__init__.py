"""The SQLite store: one connection, and a store for each noun on it.

- `store.corpus`: documents, chunks, embeddings, sentence vectors, groups and access;
- `store.people`: users and sessions;
- `store.journal`: interactions and their steps, and the queries that read them back;
- `store.feedback`: the verdicts people give answers.

These modules (and the migrations beside them) are the only ones that write SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docqa import owner
from docqa.errors import StoreError
from docqa.store.corpus import Corpus, EmbedderIdentity
from docqa.store.feedback import Feedback
from docqa.store.journal import Journal
from docqa.store.people import People

__all__ = ["MIGRATIONS", "EmbedderIdentity", "Store"]

# The migrations of docqa.store.migrations, by name (tests/test_store_and_index.py checks the
# two agree). Opening a store whose schema has them all skips importing sqlite-utils, which
# imports numpy: a tenth of a second for `docqa docs list` and `--help`-like commands.
MIGRATIONS = (
    "m001_documents_and_chunks",
    "m002_interactions_and_steps",
    "m003_attempts_and_sessions",
    "m004_users_and_document_groups",
    "m005_guard_flags",
    "m006_interaction_owners",
    "m007_passage_vectors",
    "m008_feedback",
    "m009_reindex_staging",
    "m010_chunk_sources",
)


class Store:
    """One docqa database. Open with Store.open(path); migrations run on open."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.corpus = Corpus(conn)
        self.people = People(conn)
        self.journal = Journal(conn, self.people)
        self.feedback = Feedback(conn)

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
            if store.schema()[0]:
                import sqlite_utils

                from docqa.store.migrations import migrations

                migrations.apply(sqlite_utils.Database(conn))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the docqa database {path}: {exc}") from exc
        except OSError as exc:
            raise StoreError(f"cannot create the docqa home {path.parent}: {exc}") from exc
        return store

    def close(self) -> None:
        self.conn.close()

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

    def schema(self) -> tuple[list[str], list[str]]:
        """(migrations not applied, applied ones this docqa does not know: a newer docqa
        made the store)."""
        try:
            rows = self.conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = 'docqa'"
            ).fetchall()
        except sqlite3.OperationalError:  # no migrations table: a new store
            return list(MIGRATIONS), []
        applied = {r[0] for r in rows}
        return [m for m in MIGRATIONS if m not in applied], sorted(applied - set(MIGRATIONS))

    def integrity_problems(self) -> list[str]:
        """What SQLite's own integrity check finds wrong with the file (none: [])."""
        rows = self.conn.execute("PRAGMA integrity_check").fetchall()
        return [] if [r[0] for r in rows] == ["ok"] else [r[0] for r in rows]
