"""The ingest flow with fake models: incremental updates, pruning, failures, consistency."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from docqa.adapters.hnsw import HnswIndex
from docqa.errors import EmbedderMismatchError
from docqa.flows.ingest import ingest, remove_documents
from docqa.flows.retrieve import retrieve
from docqa.ingest.passages import PASSAGE_FORMAT, embedding_text, sentence_spans
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
    vec = next(iter(store.corpus.iter_embeddings(index.dimension)))[1][0]
    return {i for i, _ in index.query(vec, len(index))}


def test_ingest_then_reingest_adds_nothing(docs, store, docqa_home):
    emb = FakeEmbedder()
    first, index = run([docs], store, emb, docqa_home)
    assert (first.files_seen, first.added, first.failed) == (17, 17, [])
    assert first.chunks_added == first.chunks_total == store.corpus.chunk_count() > 17
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}
    embedded = emb.embedded
    second, _ = run([docs], store, emb, docqa_home)
    assert (second.unchanged, second.added, second.updated, second.chunks_added) == (17, 0, 0, 0)
    assert emb.embedded == embedded  # nothing was embedded again


def test_editing_one_file_re_embeds_only_its_chunks(docs, store, docqa_home):
    emb = FakeEmbedder()
    run([docs], store, emb, docqa_home)
    target = docs / "history" / "apollo11.md"
    before = {d.path: d.chunks for d in store.corpus.documents()}
    target.write_text(target.read_text() + "\n\nA new closing paragraph about the Moon.\n")
    emb.calls.clear()
    report, index = run([docs], store, emb, docqa_home)
    assert (report.updated, report.unchanged, report.added) == (1, 16, 0)
    new_count = store.corpus.document(str(target)).chunks
    sentences = store.conn.execute(
        "SELECT sum(json_array_length(spans)) FROM chunk_sentences s JOIN chunks c"
        " ON c.id = s.chunk_id JOIN documents d ON d.id = c.document_id WHERE d.path = ?",
        (str(target),),
    ).fetchone()[0]
    assert report.chunks_added == new_count
    assert emb.embedded == new_count + sentences  # each chunk, and each of its sentences
    assert sum(before.values()) - before[str(target)] + new_count == store.corpus.chunk_count()
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}
    hits = retrieve("closing paragraph about the Moon", store=store, embedder=emb, index=index).hits
    assert hits[0].path == str(target)


def test_a_chunk_is_embedded_with_its_headings_and_its_sentences_on_their_own(
    docs, store, docqa_home
):
    emb = FakeEmbedder()
    run([docs], store, emb, docqa_home)
    doc = store.corpus.document(str(docs / "history" / "apollo11.md"))
    cid, text, heading = store.conn.execute(
        "SELECT id, text, heading FROM chunks WHERE document_id = ? AND heading != ''"
        " ORDER BY seq LIMIT 1",
        (doc.id,),
    ).fetchone()
    embedded = [t for call in emb.calls for t in call]
    assert embedding_text(doc.title, heading, text) in embedded
    assert embedding_text(doc.title, heading, text).endswith("\n" + text)
    stored = store.corpus.passage_vectors([cid])[cid]
    spans = sentence_spans(text)
    assert len(spans) >= 2 and stored.spans == tuple(spans)
    for (a, b), vector in zip(spans, stored.sentences, strict=True):
        assert text[a:b] in embedded
        assert np.allclose(vector, emb.embed([text[a:b]])[0], atol=1e-3)  # kept as float16
    assert np.allclose(stored.vector, emb.embed([embedding_text(doc.title, heading, text)])[0])
    assert {d.passages for d in store.corpus.documents()} == {PASSAGE_FORMAT}


def test_documents_embedded_by_an_older_passage_format_are_embedded_again(docs, store, docqa_home):
    emb = FakeEmbedder()
    run([docs], store, emb, docqa_home)
    old = str(docs / "history" / "apollo11.md")
    with store.conn:  # as a store from before sentence vectors has it
        store.conn.execute("UPDATE documents SET passages = 0 WHERE path = ?", (old,))
        store.conn.execute(
            "DELETE FROM chunk_sentences WHERE chunk_id IN (SELECT c.id FROM chunks c"
            " JOIN documents d ON d.id = c.document_id WHERE d.path = ?)",
            (old,),
        )
    report, index = run([docs], store, emb, docqa_home)
    assert (report.updated, report.unchanged, report.added) == (1, 16, 0)
    assert store.corpus.document(old).passages == PASSAGE_FORMAT
    missing = store.conn.execute(
        "SELECT count(*) FROM chunks WHERE id NOT IN (SELECT chunk_id FROM chunk_sentences)"
    ).fetchone()[0]
    assert missing == 0
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}


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
    assert len(store.corpus.documents()) == 17


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
    assert report.removed == 1 and len(store.corpus.documents()) == 16
    index = HnswIndex(docqa_home / "index.hnsw", 64)
    removed = remove_documents(docs / "science", store=store, index=index, dimension=64)
    assert len(removed) == 6 and len(store.corpus.documents()) == 10
    assert index_ids(index, store) == {r[0] for r in store.conn.execute("SELECT id FROM chunks")}
    sentences_of = "SELECT DISTINCT chunk_id FROM chunk_sentences ORDER BY chunk_id"
    # the removed documents' chunks took their sentences with them
    assert [r[0] for r in store.conn.execute(sentences_of)] == [
        r[0] for r in store.conn.execute("SELECT id FROM chunks ORDER BY id")
    ]


def test_another_embedder_is_refused(docs, store, docqa_home):
    run([docs / "eiffel_tower.txt"], store, FakeEmbedder(), docqa_home)
    with pytest.raises(EmbedderMismatchError):
        run([docs], store, FakeEmbedder(name="other", dimension=32), docqa_home)
    assert len(store.corpus.documents()) == 1


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
    assert report.unchanged == 1 and [d.path for d in store.corpus.documents()] == [
        str(docs / "eiffel_tower.txt")
    ]
