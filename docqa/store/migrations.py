"""Schema migrations, applied in order when the store opens. Append only; never edit one."""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("docqa")


def _run(db: Database, script: str) -> None:
    # executescript() would COMMIT the migration's transaction early: run statements one by one
    buffer = ""
    for part in script.split(";"):
        buffer += part + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                db.execute(buffer)
            buffer = ""


@migrations()
def m001_documents_and_chunks(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            path TEXT NOT NULL UNIQUE,
            format TEXT NOT NULL,
            title TEXT,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime REAL,
            n_chunks INTEGER NOT NULL DEFAULT 0,
            ingested_at TEXT NOT NULL
        );
        -- AUTOINCREMENT: chunk ids are hnswlib labels and must never be reused
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            text TEXT NOT NULL,
            n_tokens INTEGER NOT NULL,
            line_start INTEGER,
            line_end INTEGER,
            page INTEGER,
            heading TEXT NOT NULL DEFAULT '',
            embedding BLOB NOT NULL
        );
        CREATE INDEX chunks_document ON chunks(document_id, seq);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, heading, content='chunks', content_rowid='id', tokenize='porter'
        );
        CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts (rowid, text, heading) VALUES (new.id, new.text, new.heading);
        END;
        CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts (chunks_fts, rowid, text, heading)
            VALUES ('delete', old.id, old.text, old.heading);
        END;
        CREATE TRIGGER chunks_au AFTER UPDATE ON chunks BEGIN
            INSERT INTO chunks_fts (chunks_fts, rowid, text, heading)
            VALUES ('delete', old.id, old.text, old.heading);
            INSERT INTO chunks_fts (rowid, text, heading) VALUES (new.id, new.text, new.heading);
        END;
        """,
    )


@migrations()
def m002_interactions_and_steps(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE interactions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL,
            question TEXT NOT NULL,
            user TEXT,
            session TEXT,
            mode TEXT,
            template TEXT,
            model TEXT,
            embedder TEXT,
            k INTEGER,
            question_embedding BLOB,
            prompt TEXT,
            raw_output TEXT,
            answer TEXT,
            answerable INTEGER,
            citations TEXT,
            status TEXT NOT NULL,
            error TEXT,
            timings TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            seconds REAL
        );
        CREATE INDEX interactions_created ON interactions(created_at);
        CREATE TABLE steps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            interaction_id INTEGER NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            stage TEXT NOT NULL,
            seconds REAL,
            data TEXT
        );
        CREATE INDEX steps_interaction ON steps(interaction_id, seq);
        """,
    )


@migrations()
def m003_attempts_and_sessions(db: Database) -> None:
    _run(
        db,
        """
        ALTER TABLE interactions ADD COLUMN turn INTEGER;
        ALTER TABLE interactions ADD COLUMN attempts INTEGER;
        ALTER TABLE interactions ADD COLUMN groundedness REAL;
        ALTER TABLE interactions ADD COLUMN cached_tokens INTEGER;
        CREATE INDEX interactions_session ON interactions(session, id);
        CREATE TABLE sessions (
            name TEXT PRIMARY KEY,
            user TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            turns INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0
        );
        """,
    )


@migrations()
def m004_users_and_document_groups(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            features TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        -- a document with no row here is public; otherwise only members of one of its groups
        -- may retrieve it
        CREATE TABLE document_groups (
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            PRIMARY KEY (document_id, name)
        );
        CREATE INDEX document_groups_name ON document_groups(name);
        """,
    )


@migrations()
def m005_guard_flags(db: Database) -> None:
    _run(
        db,
        """
        ALTER TABLE interactions ADD COLUMN flags TEXT;
        ALTER TABLE interactions ADD COLUMN outlier_score REAL;
        """,
    )


@migrations()
def m006_interaction_owners(db: Database) -> None:
    # the process that began a running interaction (docqa.owner), so a reader can tell one
    # still being answered from one whose process died; rows written before have none
    _run(
        db,
        """
        ALTER TABLE interactions ADD COLUMN owner_pid INTEGER;
        ALTER TABLE interactions ADD COLUMN owner_host TEXT;
        ALTER TABLE interactions ADD COLUMN owner_boot TEXT;
        ALTER TABLE interactions ADD COLUMN owner_start INTEGER;
        CREATE INDEX interactions_status ON interactions(status);
        """,
    )


@migrations()
def m007_passage_vectors(db: Database) -> None:
    # documents.passages: the docqa.ingest.passages format a document's vectors were made
    # with (0: before sentence vectors; such documents are embedded again by the next
    # ingest). chunk_sentences: each chunk's sentences, as character spans of its text and
    # their vectors (float16, one row of the embedder's dimension per span).
    _run(
        db,
        """
        ALTER TABLE documents ADD COLUMN passages INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE chunk_sentences (
            chunk_id INTEGER PRIMARY KEY,
            spans TEXT NOT NULL,
            vectors BLOB NOT NULL
        );
        CREATE TRIGGER chunk_sentences_ad AFTER DELETE ON chunks BEGIN
            DELETE FROM chunk_sentences WHERE chunk_id = old.id;
        END;
        """,
    )


@migrations()
def m008_feedback(db: Database) -> None:
    # a person's verdict on an answer (`docqa feedback`): one per answer and rater, a second
    # one replacing the first. The unique index is on coalesce(user, '') because SQLite's
    # UNIQUE holds NULLs distinct, and NULL is the anonymous user ('' is no user's name).
    _run(
        db,
        """
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            interaction_id INTEGER NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
            user TEXT,
            verdict TEXT NOT NULL CHECK (verdict IN ('good', 'bad')),
            note TEXT,
            created_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX feedback_rater ON feedback(interaction_id, coalesce(user, ''));
        """,
    )


@migrations()
def m009_reindex_staging(db: Database) -> None:
    # `docqa reindex`: the new vectors of each chunk, written as they are made (so an
    # interrupted reindex resumes where it stopped) and swapped in with the new embedder's
    # identity in one transaction; the chunks' own vectors stay in use until then. `target`
    # in meta (reindex_target) names the embedder the staged vectors belong to.
    _run(
        db,
        """
        CREATE TABLE reindex_vectors (
            chunk_id INTEGER PRIMARY KEY,
            embedding BLOB NOT NULL,
            spans TEXT,
            sentences BLOB
        );
        CREATE TRIGGER reindex_vectors_ad AFTER DELETE ON chunks BEGIN
            DELETE FROM reindex_vectors WHERE chunk_id = old.id;
        END;
        """,
    )


@migrations()
def m010_chunk_sources(db: Database) -> None:
    # chunks.source: the marked-up source lines (Markdown, reST) a chunk's plain text was
    # read from (docqa.ingest.markup); NULL for formats whose text is the source's own.
    _run(db, "ALTER TABLE chunks ADD COLUMN source TEXT;")
