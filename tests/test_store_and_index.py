"""The store's schema and writes, and the vector index kept in step with it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from docqa.adapters.hnsw import HnswIndex
from docqa.errors import EmbedderMismatchError
from docqa.records import Chunk
from docqa.store import EmbedderIdentity, Store
from docqa.store.migrations import migrations


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store.open(tmp_path / "docqa.db")
    yield s
    s.close()


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _chunks(*texts: str) -> list[Chunk]:
    return [
        Chunk(seq=i, text=t, n_tokens=len(t.split()), line_start=i + 1, line_end=i + 1)
        for i, t in enumerate(texts)
    ]


def test_migrations_build_the_schema_on_a_blank_database(store):
    import sqlite_utils

    from docqa.store import MIGRATIONS

    db = sqlite_utils.Database(store.conn)
    assert {"meta", "documents", "chunks", "chunks_fts", "interactions", "steps"} <= set(
        db.table_names()
    )
    applied = [m.name for m in migrations.applied(db)]
    assert applied == [
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
    ]
    # the names the store checks on open, so it can skip sqlite-utils when all are applied
    assert list(MIGRATIONS) == [m.name for m in migrations._migrations]
    assert db["chunks"].columns_dict["embedding"] is bytes
    assert db["chunks"].columns_dict["source"] is str  # a marked-up chunk's source lines
    owners = {"owner_pid": int, "owner_host": str, "owner_boot": str, "owner_start": int}
    assert owners.items() <= db["interactions"].columns_dict.items()
    assert db["documents"].columns_dict["passages"] is int
    assert db["chunk_sentences"].columns_dict == {"chunk_id": int, "spans": str, "vectors": bytes}
    assert db["reindex_vectors"].columns_dict == {
        "chunk_id": int,
        "embedding": bytes,
        "spans": str,
        "sentences": bytes,
    }


def test_reopening_applies_nothing_twice(tmp_path):
    Store.open(tmp_path / "d.db").close()
    s = Store.open(tmp_path / "d.db")
    assert s.conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 10


def test_only_the_store_modules_write_sql():
    """SQL lives in docqa/store/ (corpus, people, journal, feedback, the connection, the
    migrations): no other module of the package runs a statement or reaches for the
    connection."""
    import re
    from pathlib import Path

    import docqa

    package = Path(docqa.__file__).parent
    pattern = re.compile(r"\.(execute|executemany|executescript)\(|\.conn\b|\bsqlite3\b")
    outside = [
        f"{path.relative_to(package)}:{n}"
        for path in sorted(package.rglob("*.py"))
        if package / "store" not in path.parents
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert outside == []
    inside = {p.name for p in (package / "store").glob("*.py") if pattern.search(p.read_text())}
    assert inside == {
        *("__init__.py", "corpus.py", "people.py", "journal.py", "migrations.py"),
        "feedback.py",
    }


def test_a_new_store_reports_its_schema_current_and_a_newer_one_is_named(store):
    assert store.schema() == ([], [])
    with store.conn:
        store.conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('docqa', 'm999_from_the_future', '2030-01-01')"
        )
        store.conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_passage_vectors'")
    assert store.schema() == (["m007_passage_vectors"], ["m999_from_the_future"])


def test_replace_document_swaps_chunks_and_fts_in_one_go(store):
    new, old = store.corpus.replace_document(
        path="/a.md",
        format="markdown",
        title="A",
        sha256="1",
        size=3,
        mtime=None,
        chunks=_chunks("apple pie", "banana"),
        vectors=_vectors(2),
    )
    assert old == [] and len(new) == 2
    assert store.corpus.lexical_search("apple", 10) == [new[0]]
    new2, old2 = store.corpus.replace_document(
        path="/a.md",
        format="markdown",
        title="A",
        sha256="2",
        size=3,
        mtime=None,
        chunks=_chunks("cherry"),
        vectors=_vectors(1),
    )
    assert old2 == new and new2[0] > max(new)  # ids are never reused
    assert store.corpus.lexical_search("apple", 10) == []
    assert store.corpus.lexical_search("cherries", 10) == new2  # porter stemming
    assert store.corpus.fingerprint() == (1, new2[0], new2[0])


def test_lexical_search_survives_fts_syntax_in_questions(store):
    store.corpus.replace_document(
        path="/b.md",
        format="markdown",
        title=None,
        sha256="x",
        size=1,
        mtime=None,
        chunks=_chunks('say "NEAR" AND OR *'),
        vectors=_vectors(1),
    )
    assert len(store.corpus.lexical_search('"NEAR(" AND) OR * -', 5)) == 1
    assert store.corpus.lexical_search("?!", 5) == []


def test_embedder_is_claimed_once_and_a_different_one_refused(store):
    store.corpus.claim_embedder(EmbedderIdentity("minilm", 384))
    store.corpus.claim_embedder(EmbedderIdentity("minilm", 384))
    with pytest.raises(EmbedderMismatchError, match="minilm \\(384-d\\)"):
        store.corpus.claim_embedder(EmbedderIdentity("other", 768))


def test_index_query_remove_and_reload(tmp_path):
    vecs = _vectors(50)
    index = HnswIndex(tmp_path / "i.hnsw", 8)
    index.open((0, 0, 0), lambda: [])
    index.add(list(range(1, 51)), vecs)
    top = index.query(vecs[9], 3)
    assert top[0][0] == 10 and top[0][1] == pytest.approx(1.0, abs=1e-5)
    index.remove([10])
    assert 10 not in [i for i, _ in index.query(vecs[9], 5)]
    fp = (49, sum(range(1, 51)) - 10, 50)
    index.save(fp)
    again = HnswIndex(tmp_path / "i.hnsw", 8)
    again.open(fp, lambda: pytest.fail("a matching saved index must not be rebuilt"))
    assert not again.rebuilt and len(again) == 49
    assert again.query(vecs[20], 1)[0][0] == 21


def test_index_rebuilds_when_the_store_moved_on(tmp_path):
    vecs = _vectors(5)
    index = HnswIndex(tmp_path / "i.hnsw", 8)
    index.open((0, 0, 0), lambda: [])
    index.add([1, 2, 3], vecs[:3])
    index.save((3, 6, 3))
    stale = HnswIndex(tmp_path / "i.hnsw", 8)
    stale.open((5, 15, 5), lambda: [([1, 2, 3, 4, 5], vecs)])  # the store has 5 chunks now
    assert stale.rebuilt and len(stale) == 5
    assert stale.query(vecs[4], 1)[0][0] == 5


def test_a_manifest_never_pairs_with_another_states_data(tmp_path):
    """Data files are named by the state they hold and the manifest is replaced last: a
    reader holding the previous manifest finds that state's data or none (and rebuilds),
    never the new data under the old fingerprint; earlier data files are removed."""
    vecs = _vectors(4)
    index = HnswIndex(tmp_path / "i.hnsw", 8)
    index.open((0, 0, 0), lambda: [])
    index.add([1, 2, 3], vecs[:3])
    index.save((3, 6, 3))
    manifest_before = json.loads(index.meta_path.read_text())
    index.add([4], vecs[3:])
    index.save((4, 10, 4))
    manifest_after = json.loads(index.meta_path.read_text())
    assert manifest_before["file"] != manifest_after["file"]
    assert not (tmp_path / manifest_before["file"]).exists()
    assert [p.name for p in index.data_files()] == [manifest_after["file"]]
    # a reader that read the previous manifest before the save replaced it
    index.meta_path.write_text(json.dumps(manifest_before))
    reader = HnswIndex(tmp_path / "i.hnsw", 8)
    reader.open((3, 6, 3), lambda: [([1, 2, 3], vecs[:3])])  # its snapshot predates the save
    assert reader.rebuilt and reader.live_ids() == {1, 2, 3}  # never the 4 of the new state


def test_an_index_saved_before_data_files_had_names_still_loads(tmp_path):
    vecs = _vectors(3)
    index = HnswIndex(tmp_path / "i.hnsw", 8)
    index.open((0, 0, 0), lambda: [])
    index.add([1, 2, 3], vecs)
    index.save((3, 6, 3))
    meta = json.loads(index.meta_path.read_text())
    index.data_path((3, 6, 3)).rename(tmp_path / "i.hnsw")  # the old layout
    index.meta_path.write_text(json.dumps({k: v for k, v in meta.items() if k != "file"}))
    again = HnswIndex(tmp_path / "i.hnsw", 8)
    again.open((3, 6, 3), lambda: pytest.fail("the old layout must load"))
    assert again.live_ids() == {1, 2, 3}
    again.save((3, 6, 3))
    assert [p.name for p in again.data_files()] == [again.data_path((3, 6, 3)).name]


def test_corrupt_index_file_is_rebuilt(tmp_path):
    vecs = _vectors(3)
    index = HnswIndex(tmp_path / "i.hnsw", 8)
    index.open((0, 0, 0), lambda: [])
    index.add([1, 2, 3], vecs)
    index.save((3, 6, 3))
    index.data_path((3, 6, 3)).write_bytes(b"garbage")
    again = HnswIndex(tmp_path / "i.hnsw", 8)
    again.open((3, 6, 3), lambda: [([1, 2, 3], vecs)])
    assert again.rebuilt and again.query(vecs[1], 1)[0][0] == 2
