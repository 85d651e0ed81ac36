"""Chunk vectors from a model of their own, and `docqa reindex`, with fake models: the store's
two identities, retrieval in two spaces, a reindex that is interrupted and resumed, sentence
vectors kept or made, and answers that reuse the stored sentence vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from docqa.adapters.hnsw import HnswIndex
from docqa.errors import EmbedderMismatchError
from docqa.flows.corpus import open_index
from docqa.flows.ingest import Embeddings, ingest
from docqa.flows.reindex import reindex
from docqa.flows.retrieve import retrieve
from docqa.store import EmbedderIdentity, Store
from tests.fakes import FakeChunkEmbedder, FakeEmbedder

QUESTION = "Which aircraft carrier recovered the Apollo 11 crew?"


@pytest.fixture
def store(docqa_home) -> Store:
    s = Store.open(docqa_home / "docqa.db")
    yield s
    s.close()


def ingested(docs, store, home, embedder, chunks=None, **kw):
    index = HnswIndex(home / "index.hnsw", (chunks or embedder).dimension)
    ingest([Path(docs)], store=store, embedder=embedder, index=index, chunk_embedder=chunks, **kw)
    return index


def reindexed(store, home, sentences, chunks=None, per_sentence=True, **kw):
    index = HnswIndex(home / "index.hnsw", (chunks or sentences).dimension)
    report = reindex(
        store=store, embeddings=Embeddings(sentences, chunks, per_sentence), index=index, **kw
    )
    return report, index


def stored_vectors(store) -> dict[int, bytes]:
    return dict(store.conn.execute("SELECT id, embedding FROM chunks"))


def test_a_chunk_embedder_makes_the_chunk_vectors_and_the_sentences_stay(docs, store, docqa_home):
    words, chunks = FakeEmbedder(), FakeChunkEmbedder()
    index = ingested(docs, store, docqa_home, words, chunks)
    n = store.corpus.chunk_count()
    assert store.corpus.embedder() == EmbedderIdentity("fake-chunks", 48)
    assert store.corpus.sentence_embedder() == EmbedderIdentity("fake-embedder", 64)
    assert len(chunks.documents) == n and index.dimension == 48
    assert {len(v) for v in stored_vectors(store).values()} == {48 * 4}
    widths = {
        len(b) // (2 * n)
        for b, n in store.conn.execute(
            "SELECT vectors, json_array_length(spans) FROM chunk_sentences"
        )
    }
    assert widths == {64}  # float16 sentence vectors of the sentence model
    found = retrieve(QUESTION, store=store, embedder=words, index=index, chunk_embedder=chunks)
    assert found.hits[0].path.endswith("apollo11.md")
    assert chunks.queries == [QUESTION]
    assert found.vector.shape == (64,)  # the question is recorded in the sentences' space
    # without the chunk embedder the store refuses: its chunk vectors are another model's
    with pytest.raises(EmbedderMismatchError, match="reindex"):
        retrieve(QUESTION, store=store, embedder=words, index=index)


def test_reindex_moves_a_store_to_another_chunk_embedder_and_back(docs, store, docqa_home):
    words = FakeEmbedder()
    ingested(docs, store, docqa_home, words)
    before = stored_vectors(store)
    sentences = store.conn.execute("SELECT chunk_id, vectors FROM chunk_sentences").fetchall()
    chunks = FakeChunkEmbedder()
    words.calls.clear()
    report, index = reindexed(store, docqa_home, words, chunks)
    n = store.corpus.chunk_count()
    assert (report.changed, report.chunks, report.embedded, report.sentences) == (
        True, n, n, "keep",
    )  # fmt: skip
    assert report.previous == "fake-embedder (64-d)" and report.embedder == "fake-chunks (48-d)"
    assert words.calls == []  # the sentences' model did not change: nothing of it was re-run
    assert store.conn.execute("SELECT chunk_id, vectors FROM chunk_sentences").fetchall() == (
        sentences
    )
    assert set(stored_vectors(store)) == set(before)  # same chunks, new vectors
    assert store.corpus.embedder() == EmbedderIdentity("fake-chunks", 48)
    assert store.conn.execute("SELECT count(*) FROM reindex_vectors").fetchone()[0] == 0
    # the saved index is the new one, and a fresh open finds it consistent
    fresh = HnswIndex(docqa_home / "index.hnsw", 48)
    assert fresh.load_saved(store.corpus.fingerprint()) and len(fresh) == n
    found = retrieve(QUESTION, store=store, embedder=words, index=fresh, chunk_embedder=chunks)
    assert found.hits[0].path.endswith("apollo11.md")
    # a second reindex to the same embedders has nothing to do
    again, _ = reindexed(store, docqa_home, words, chunks)
    assert (again.changed, again.embedded) == (False, 0)
    # and back: the vectors are the sentence model's again, bit for bit
    back, index = reindexed(store, docqa_home, words)
    assert back.embedded == n and stored_vectors(store) == before
    assert (
        retrieve(QUESTION, store=store, embedder=words, index=index)
        .hits[0]
        .path.endswith("apollo11.md")
    )


def test_an_interrupted_reindex_leaves_the_store_usable_and_resumes(docs, store, docqa_home):
    words = FakeEmbedder()
    old_index = ingested(docs, store, docqa_home, words)
    before = stored_vectors(store)
    n = store.corpus.chunk_count()
    chunks = FakeChunkEmbedder()
    chunks.fail_after = 40
    with pytest.raises(KeyboardInterrupt):
        reindexed(store, docqa_home, words, chunks, batch=16)
    staged = store.conn.execute("SELECT count(*) FROM reindex_vectors").fetchone()[0]
    assert staged == 32  # two whole batches were kept; the third died with the process
    assert stored_vectors(store) == before  # nothing swapped in
    assert store.corpus.embedder() == EmbedderIdentity("fake-embedder", 64)
    index = HnswIndex(docqa_home / "index.hnsw", 64)
    assert index.load_saved(store.corpus.fingerprint())  # the old index is still the one
    hits = retrieve(QUESTION, store=store, embedder=words, index=index).hits
    assert [h.chunk_id for h in hits] == [
        h.chunk_id for h in retrieve(QUESTION, store=store, embedder=words, index=old_index).hits
    ]
    # run again: only the chunks not staged yet are embedded
    chunks.fail_after, chunks.documents = None, []
    report, index = reindexed(store, docqa_home, words, chunks, batch=16)
    assert report.embedded == n - 32 == len(chunks.documents)
    assert store.corpus.embedder() == EmbedderIdentity("fake-chunks", 48)
    # the staged vectors equal a whole run's
    whole = FakeChunkEmbedder()
    rows = store.conn.execute(
        "SELECT c.id, d.title, c.heading, c.text FROM chunks c JOIN documents d"
        " ON d.id = c.document_id ORDER BY c.id"
    ).fetchall()
    from docqa.ingest.passages import embedding_text

    want = whole.embed_documents([embedding_text(t, h, x) for _, t, h, x in rows])
    got = np.stack([np.frombuffer(stored_vectors(store)[r[0]], np.float32) for r in rows])
    assert np.allclose(got, want)


def test_a_reindex_for_another_target_drops_what_was_staged_for_the_first(docs, store, docqa_home):
    words = FakeEmbedder()
    ingested(docs, store, docqa_home, words)
    first = FakeChunkEmbedder("first", 48)
    first.fail_after = 20
    with pytest.raises(KeyboardInterrupt):
        reindexed(store, docqa_home, words, first, batch=16)
    other = FakeChunkEmbedder("other", 32)
    report, _ = reindexed(store, docqa_home, words, other, batch=16)
    assert report.embedded == store.corpus.chunk_count()  # nothing of "first" was used
    assert store.corpus.embedder() == EmbedderIdentity("other", 32)


def test_a_new_sentence_model_re_embeds_the_sentences_or_drops_them(docs, store, docqa_home):
    ingested(docs, store, docqa_home, FakeEmbedder())
    n_sentences = store.conn.execute(
        "SELECT sum(json_array_length(spans)) FROM chunk_sentences"
    ).fetchone()[0]
    other = FakeEmbedder("other-sentences", 32)
    report, _ = reindexed(store, docqa_home, other)
    assert report.sentences == "staged"
    assert other.embedded == store.corpus.chunk_count() + n_sentences
    widths = {
        len(b) // (2 * k)
        for b, k in store.conn.execute(
            "SELECT vectors, json_array_length(spans) FROM chunk_sentences"
        )
    }
    assert widths == {32}
    assert store.corpus.sentence_embedder() == EmbedderIdentity("other-sentences", 32)
    # with sentence vectors off, another model's sentences are dropped, not kept
    third = FakeEmbedder("third", 16)
    report, _ = reindexed(store, docqa_home, third, per_sentence=False)
    assert report.sentences == "drop"
    assert store.conn.execute("SELECT count(*) FROM chunk_sentences").fetchone()[0] == 0
    assert third.embedded == store.corpus.chunk_count()


def test_sentence_vectors_off_embeds_chunks_only_and_retrieval_still_works(docs, store, docqa_home):
    words = FakeEmbedder()
    index = ingested(docs, store, docqa_home, words, sentence_vectors=False)
    assert words.embedded == store.corpus.chunk_count()
    assert store.conn.execute("SELECT count(*) FROM chunk_sentences").fetchone()[0] == 0
    hit = retrieve(QUESTION, store=store, embedder=words, index=index).hits[0]
    assert hit.path.endswith("apollo11.md") and hit.sentence_score == hit.dense_score


def test_an_open_index_of_another_dimension_is_rebuilt(docs, store, docqa_home):
    words = FakeEmbedder()
    ingested(docs, store, docqa_home, words)
    reindexed(store, docqa_home, words, FakeChunkEmbedder())
    index = HnswIndex(docqa_home / "index.hnsw", 48)
    open_index(store, index, 48)
    assert not index.rebuilt and len(index) == store.corpus.chunk_count()


def test_the_embedder_setting_takes_a_name_or_a_folder_and_says_what_is_wrong(tmp_path):
    from docqa.config import Settings, embedder_name, load_settings, resolve_embedder_path
    from docqa.errors import DocqaError, ModelError

    assert [embedder_name(v) for v in (None, "minilm", " Nomic-Embed-v1.5 ", "/x")] == [
        "minilm",
        "minilm",
        "nomic-embed-v1.5",
        None,
    ]
    with pytest.raises(ModelError) as exc:
        resolve_embedder_path(Settings(home=tmp_path, embedder="bogus"))
    assert "bogus is neither a sentence-transformers model folder nor an embedder's name" in str(
        exc.value
    )
    with pytest.raises(DocqaError, match="embedder_dimension must be one of 768, 512, 256, 128"):
        load_settings(home=tmp_path, embedder_dimension=300)
    (tmp_path / "docqa.toml").write_text(
        'embedder = "nomic-embed-v1.5"\nsentence_vectors = false\n'
    )
    settings = load_settings(home=tmp_path)
    assert (settings.embedder, settings.sentence_vectors) == ("nomic-embed-v1.5", False)


def test_reindex_through_the_command_line(docs, fakes):
    from tests.cli import invoke

    assert invoke("ingest", docs, "--json").exit_code == 0
    result = invoke("reindex", "--json")  # the fakes' embedder: the store's own already
    assert result.exit_code == 0, result.output
    import json

    body = json.loads(result.stdout)
    assert set(body) == {
        "embedder", "sentence_embedder", "previous", "changed", "chunks", "embedded",
        "sentences", "seconds",
    }  # fmt: skip
    assert (body["changed"], body["embedded"]) == (False, 0)
    plain = invoke("reindex")
    assert plain.exit_code == 0 and "nothing to do" in plain.stdout
