"""Retrieval: candidates from the vector index and FTS5, ranked by dense, best-sentence and
lexical scores added."""

from __future__ import annotations

import pytest

from docqa.errors import EmptyStoreError, UsageError
from docqa.flows.retrieve import DOCUMENT_WEIGHT, LEXICAL_WEIGHT, SENTENCE_WEIGHT, retrieve
from docqa.ingest.passages import sentence_spans
from docqa.records import Chunk, Sentences
from docqa.store import Store
from tests.fakes import FakeEmbedder


class StubIndex:
    """Returns a fixed dense ranking, whatever the query."""

    def __init__(self, ranking: list[tuple[int, float]]):
        self.ranking = ranking

    def query(self, vector, k, exclude=None):
        return [r for r in self.ranking if r[0] not in (exclude or ())][:k]


TEXTS = ["zebra stripes", "lion mane", "zebra crossing road", "tiger", "elephant trunk"]


def put(store: Store, path: str, texts: list[str], *, sentences: bool = False) -> None:
    """Store a document of one chunk per text (line i + 1 each), embedded by FakeEmbedder;
    with `sentences`, each chunk's sentences are embedded too, as ingest does."""
    emb = FakeEmbedder()
    spans = [sentence_spans(t) for t in texts]
    store.corpus.replace_document(
        path=path,
        format="markdown",
        title=None,
        sha256=path,
        size=1,
        mtime=None,
        chunks=[
            Chunk(seq=i, text=t, n_tokens=len(t.split()), line_start=i + 1, line_end=i + 1)
            for i, t in enumerate(texts)
        ],
        vectors=emb.embed(texts),
        sentences=[
            Sentences(sp, emb.embed([t[a:b] for a, b in sp]))
            for t, sp in zip(texts, spans, strict=True)
        ]
        if sentences
        else None,
        passages=1 if sentences else 0,
    )


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store.open(tmp_path / "d.db")
    put(s, "/zoo.md", TEXTS)
    yield s
    s.close()


def test_candidates_from_either_retriever_are_scored_on_the_stored_vectors(store):
    emb = FakeEmbedder()
    dense = StubIndex([(2, 0.9), (4, 0.8), (1, 0.7)])  # chunk ids are 1..5; scores ignored
    found = retrieve("zebra", store=store, embedder=emb, index=dense, k=4)
    # lexical: "zebra" matches chunks 1 and 3 (3 only lexically); dense brings 2, 4, 1
    assert {h.chunk_id for h in found.hits} == {1, 2, 3, 4}
    q = emb.embed(["zebra"])[0]
    for hit in found.hits:
        cosine = float(emb.embed([TEXTS[hit.chunk_id - 1]])[0] @ q)
        assert hit.dense_score == pytest.approx(cosine, abs=1e-5)
        # stored without sentence vectors: the chunk stands for its best sentence
        assert hit.sentence_score == hit.dense_score and hit.sentence is None
    own = {
        h.chunk_id: h.dense_score * (1 + SENTENCE_WEIGHT) + LEXICAL_WEIGHT * h.lexical_score
        for h in found.hits
    }
    for hit in found.hits:  # all five chunks are of one document: its best lifts them all
        assert hit.document_score == pytest.approx(max(own.values()), abs=1e-5)
        assert hit.score == pytest.approx(
            own[hit.chunk_id] + DOCUMENT_WEIGHT * hit.document_score, abs=1e-5
        )
    by_id = {h.chunk_id: h for h in found.hits}
    assert by_id[3].dense_rank is None and by_id[3].lexical_rank in (1, 2)
    assert max(by_id[1].lexical_score, by_id[3].lexical_score) == 1.0  # the best match is 1
    assert by_id[2].lexical_score == 0.0 and by_id[2].lexical_rank is None
    assert [h.chunk_id for h in found.hits][:2] in ([1, 3], [3, 1])  # both name zebras
    assert found.hits[0].lines == (found.hits[0].chunk_id,) * 2


def test_the_best_sentence_scores_a_chunk_and_is_reported(tmp_path):
    emb = FakeEmbedder()
    texts = [
        "Zebras live in Africa. Their stripes differ from animal to animal. "
        "A zebra crossing is a road marking for people on foot.",
        "Roads cross rivers on bridges; zebras cross them by swimming or fording.",
    ]
    store = Store.open(tmp_path / "d.db")
    put(store, "/z.md", texts, sentences=True)
    question = "What is a zebra crossing road marking?"
    found = retrieve(question, store=store, embedder=emb, index=StubIndex([(1, 0), (2, 0)]))
    top = found.hits[0]
    assert top.chunk_id == 1
    assert top.text[slice(*top.sentence)] == (
        "A zebra crossing is a road marking for people on foot."
    )
    q = emb.embed([question])[0]
    assert top.sentence_score == pytest.approx(
        float(emb.embed([top.text[slice(*top.sentence)]])[0] @ q), abs=1e-3
    )
    assert top.sentence_score > top.dense_score  # the one sentence matches better
    assert store.corpus.passage_vectors([1])[1].sentences.shape == (3, emb.dimension)
    store.close()


def test_a_chunk_of_the_page_most_about_the_question_is_lifted(tmp_path):
    emb = FakeEmbedder()
    store = Store.open(tmp_path / "d.db")
    pages = {  # the same text on two pages; one page is about the question as a whole
        "/ferries.md": ["winter timetables", "ferry timetables in winter"],
        "/misc.md": ["winter timetables", "opening hours of the museum"],
    }
    for path, texts in pages.items():
        put(store, path, texts)
    index = StubIndex([(1, 0), (2, 0), (3, 0), (4, 0)])
    found = retrieve("ferry timetables in winter", store=store, embedder=emb, index=index, k=4)
    assert [h.chunk_id for h in found.hits] == [2, 1, 3, 4]
    same_page, other_page = found.hits[1], found.hits[2]  # "winter timetables", twice
    assert same_page.dense_score == other_page.dense_score
    assert same_page.document_score == found.hits[0].document_score > other_page.document_score
    store.close()


def test_k_limits_hits_and_scores_descend(store):
    found = retrieve(
        "zebra lion",
        store=store,
        embedder=FakeEmbedder(),
        index=StubIndex([(i, 1 - i / 10) for i in range(1, 6)]),
        k=2,
    )
    assert len(found.hits) == 2
    assert found.hits[0].score >= found.hits[1].score


def test_empty_question_and_empty_store(tmp_path, store):
    with pytest.raises(UsageError):
        retrieve(" \n\t", store=store, embedder=FakeEmbedder(), index=StubIndex([]))
    empty = Store.open(tmp_path / "empty.db")
    with pytest.raises(EmptyStoreError, match="docqa ingest"):
        retrieve("zebra", store=empty, embedder=FakeEmbedder(), index=StubIndex([]))
