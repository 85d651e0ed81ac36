"""Retrieval: reciprocal rank fusion of dense and lexical candidates."""

from __future__ import annotations

import numpy as np
import pytest

from docqa.errors import EmptyStoreError, UsageError
from docqa.flows.retrieve import RRF_K, retrieve
from docqa.records import Chunk
from docqa.store import Store
from tests.fakes import FakeEmbedder


class StubIndex:
    """Returns a fixed dense ranking, whatever the query."""

    def __init__(self, ranking: list[tuple[int, float]]):
        self.ranking = ranking

    def query(self, vector, k, exclude=None):
        return [r for r in self.ranking if r[0] not in (exclude or ())][:k]


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store.open(tmp_path / "d.db")
    texts = ["zebra stripes", "lion mane", "zebra crossing road", "tiger", "elephant trunk"]
    chunks = [
        Chunk(seq=i, text=t, n_tokens=2, line_start=i + 1, line_end=i + 1)
        for i, t in enumerate(texts)
    ]
    s.replace_document(
        path="/zoo.md",
        format="markdown",
        title=None,
        sha256="x",
        size=1,
        mtime=None,
        chunks=chunks,
        vectors=np.eye(5, 64, dtype=np.float32),
    )
    yield s
    s.close()


def test_fusion_ranks_agreement_first_and_keeps_lexical_only_hits(store):
    dense = StubIndex([(2, 0.9), (4, 0.8), (1, 0.7)])  # chunk ids are 1..5
    found = retrieve("zebra", store=store, embedder=FakeEmbedder(), index=dense, k=4)
    ids = [h.chunk_id for h in found.hits]
    # lexical: "zebra" matches chunks 1 and 3; dense ranks 2, 4, 1
    assert ids[0] == 1  # found by both
    assert set(ids) == {1, 2, 3, 4}
    top = found.hits[0]
    assert top.score == pytest.approx(1 / (RRF_K + 3) + 1 / (RRF_K + top.lexical_rank), abs=1e-6)
    assert top.dense_rank == 3 and top.dense_score == pytest.approx(0.7)
    lexical_only = next(h for h in found.hits if h.chunk_id == 3)
    assert lexical_only.dense_score is None and lexical_only.lexical_rank in (1, 2)
    assert found.hits[0].lines == (1, 1) and found.hits[0].path == "/zoo.md"


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
