"""The embedding memo shared by ask's checks and bench/embedders.py's weight grid."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from docqa.flows.memo import EmbeddingMemo


class Counting:
    """An asymmetric embedder that records every text it is given."""

    name, dimension = "counting", 2

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.loads = 0

    def load(self) -> None:
        self.loads += 1

    def _vectors(self, kind: str, texts, sign: float) -> np.ndarray:
        self.seen += [(kind, t) for t in texts]
        return np.array([[sign * len(t), 1.0] for t in texts], dtype=np.float64)

    def embed(self, texts):
        return self._vectors("embed", texts, 1.0)

    def embed_queries(self, texts):
        return self._vectors("query", texts, -1.0)


def test_each_text_is_embedded_once_and_answers_keep_their_order():
    inner = Counting()
    memo = EmbeddingMemo(inner)
    first = memo.embed(["ab", "c", "ab"])
    again = memo.embed(t for t in ["c", "ab", "xyz"])
    assert inner.seen == [("embed", "ab"), ("embed", "c"), ("embed", "xyz")]
    assert first.dtype == np.float32 and first[:, 0].tolist() == [2, 1, 2]
    assert again[:, 0].tolist() == [1, 2, 3]
    assert memo.embed([]).shape == (0, 2)
    assert (memo.name, memo.dimension) == ("counting", 2)
    memo.load()
    assert inner.loads == 1


def test_questions_are_remembered_apart_from_passages():
    inner = Counting()
    memo = EmbeddingMemo(inner)
    assert memo.embed(["q"])[0, 0] == 1
    assert memo.embed_queries(["q", "q"])[:, 0].tolist() == [-1, -1]
    assert memo.embed_queries(["q"])[0, 0] == -1
    assert inner.seen == [("embed", "q"), ("query", "q")]


def test_stored_sentence_vectors_are_learnt_and_not_embedded_again():
    inner = Counting()
    memo = EmbeddingMemo(inner)
    text = "One. Two."
    stored = np.array([[9.0, 9.0], [8.0, 8.0]], dtype=np.float32)
    memo.learn(text, SimpleNamespace(sentences=stored, spans=[(0, 4), (5, 9)]))
    memo.learn("x", SimpleNamespace(sentences=np.zeros((1, 3)), spans=[(0, 1)]))  # other size
    memo.learn("y", SimpleNamespace(sentences=None, spans=[(0, 1)]))
    assert memo.embed(["Two.", "One.", "x"])[:, 0].tolist() == [8, 9, 1]
    assert inner.seen == [("embed", "x")]
