"""The ingest flow with fake models: incremental updates, pruning, failures, consistency."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from docqa.adapters.hnsw import HnswIndex
from docqa.errors import EmbedderMismatchError
from docqa.flows.ingest import ingest, remove_documents
from docqa.flows.retrieve import retrieve
from docqa.store import Store
from tests.fakes import FakeEmbedder


@pytest.fixture
def store(docqa_home) -> Store:
    s = Store.open(docqa_home / "docqa.db")
    yield s
    s.close()


def run(paths, store, embedder, home, **kw):
    index = HnswIndex(home / "index.hnsw", embedder.dimension)
    return ingest(
        [Path(p) for p in paths], store=store, embedder=embedder, index=index, **kw
    ), index


def index_ids(index: HnswIndex, store: Store) -> set[int]:
    """Every chunk id the index returns for an exhaustive query."""
    vec = next(iter(store.iter_embeddings(index.dimension)))[1][0]
    return {i for i, _ in index.query(vec, len(index))}


def test_ingest_then_reingest_adds_nothing(docs, store, docqa_home):
    emb = FakeEmbedder()
    first, index = run([docs], store, emb, docqa_home)
    assert (first.files_seen, first.added, first.failed) == (17, 17, [])
    assert first.chunks_added == first.chunks_total == store.chunk_count() > 17
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}
    embedded = emb.embedded
    second, _ = run([docs], store, emb, docqa_home)
    assert (second.unchanged, second.added, second.updated, second.chunks_added) == (17, 0, 0, 0)
    assert emb.embedded == embedded  # nothing was embedded again


def test_editing_one_file_re_embeds_only_its_chunks(docs, store, docqa_home):
    emb = FakeEmbedder()
    run([docs], store, emb, docqa_home)
    target = docs / "history" / "apollo11.md"
    before = {d.path: d.chunks for d in store.documents()}
    target.write_text(target.read_text() + "\n\nA new closing paragraph about the Moon.\n")
    emb.calls.clear()
    report, index = run([docs], store, emb, docqa_home)
    assert (report.updated, report.unchanged, report.added) == (1, 16, 0)
    new_count = store.document(str(target)).chunks
    assert emb.embedded == report.chunks_added == new_count
    assert sum(before.values()) - before[str(target)] + new_count == store.chunk_count()
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}
    hits = retrieve("closing paragraph about the Moon", store=store, embedder=emb, index=index).hits
    assert hits[0].path == str(target)


def test_bad_files_are_reported_and_the_rest_kept(docs, store, docqa_home):
    run([docs], store, FakeEmbedder(), docqa_home)
    (docs / "bad.txt").write_bytes(b"\xff\xfe\xfa not utf8 \x00\x00")
    (docs / "empty.md").write_text("")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 nonsense")
    (docs / "notes.xyz").write_text("not a supported type")
    (docs / "dangling.md").symlink_to(docs / "nowhere.md")
    report, index = run([docs, docs / "missing.txt"], store, FakeEmbedder(), docqa_home)
    reasons = {Path(f.path).name: f.reason for f in report.failed}
    assert set(reasons) == {"bad.txt", "empty.md", "broken.pdf", "missing.txt", "dangling.md"}
    assert reasons["empty.md"] == "empty file"
    assert "broken PDF" in reasons["broken.pdf"]
    assert reasons["missing.txt"] == "no such file or directory"
    assert report.skipped == 1 and report.unchanged == 17
    assert len(store.documents()) == 17


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_is_reported(docs, store, docqa_home):
    secret = docs / "secret.md"
    secret.write_text("# hidden")
    secret.chmod(0)
    report, _ = run([secret], store, FakeEmbedder(), docqa_home)
    assert report.failed[0].reason == "permission denied"


def test_prune_and_rm(docs, store, docqa_home):
    run([docs], store, FakeEmbedder(), docqa_home)
    (docs / "coffee.html").unlink()
    report, _ = run([docs], store, FakeEmbedder(), docqa_home, prune=True)
    assert report.removed == 1 and len(store.documents()) == 16
    index = HnswIndex(docqa_home / "index.hnsw", 64)
    removed = remove_documents(docs / "science", store=store, index=index, dimension=64)
    assert len(removed) == 6 and len(store.documents()) == 10
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}


def test_another_embedder_is_refused(docs, store, docqa_home):
    run([docs / "eiffel_tower.txt"], store, FakeEmbedder(), docqa_home)
    with pytest.raises(EmbedderMismatchError):
        run([docs], store, FakeEmbedder(name="other", dimension=32), docqa_home)
    assert len(store.documents()) == 1


def test_index_lost_after_a_crash_is_rebuilt_from_sqlite(docs, store, docqa_home):
    emb = FakeEmbedder()
    run([docs], store, emb, docqa_home)
    (docqa_home / "index.hnsw.json").unlink()  # as if killed before the index was saved
    emb.calls.clear()
    report, index = run([docs], store, emb, docqa_home)
    assert index.rebuilt and emb.embedded == 0
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}


def test_permission_denied_is_reported_even_as_root(docs, store, docqa_home, monkeypatch):
    secret = docs / "secret.md"
    secret.write_text("# hidden")
    real_read = Path.read_bytes

    def read_bytes(self):
        if self.name == "secret.md":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report, _ = run([docs], store, FakeEmbedder(), docqa_home)
    assert [(Path(f.path).name, f.reason) for f in report.failed] == [
        ("secret.md", "permission denied")
    ]
    assert report.added == 17


def test_one_file_named_two_ways_is_one_document(docs, store, docqa_home):
    emb = FakeEmbedder()
    run([docs / "eiffel_tower.txt"], store, emb, docqa_home)
    report, _ = run([docs / "history" / ".." / "eiffel_tower.txt"], store, emb, docqa_home)
    assert report.unchanged == 1 and [d.path for d in store.documents()] == [
        str(docs / "eiffel_tower.txt")
    ]
