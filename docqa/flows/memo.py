"""An embedder that embeds each text once: a question's sentences over its attempts
(docqa.flows.ask), the same questions over a grid of fusion weights (bench/embedders.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from docqa.adapters.protocols import Embedder


class EmbeddingMemo:
    """`embedder`, remembering every vector it made: `embed` (and, for a chunk embedder,
    `embed_queries`, remembered apart: a question is embedded differently from a passage)
    hands each new text to the embedder once, however often it comes back."""

    def __init__(self, embedder: Embedder):
        self.inner, self.name, self.dimension = embedder, embedder.name, embedder.dimension
        self.vectors: dict[str, np.ndarray] = {}
        self.queries: dict[str, np.ndarray] = {}

    def load(self) -> None:
        self.inner.load()

    def learn(self, text: str, passage) -> None:
        """Remember the sentence vectors stored with a chunk (`text`): made by this
        embedder's model at ingest, they need not be made again."""
        if passage.sentences is None or len(passage.sentences) != len(passage.spans):
            return
        if passage.sentences.shape[1] != self.dimension:
            return
        for (a, b), vector in zip(passage.spans, passage.sentences, strict=True):
            self.vectors.setdefault(text[a:b], vector)

    def embed(self, texts: Iterable[str]) -> np.ndarray:
        return self._recall(self.vectors, self.inner.embed, list(texts))

    def embed_queries(self, texts: Iterable[str]) -> np.ndarray:
        return self._recall(self.queries, self.inner.embed_queries, list(texts))

    def _recall(self, memo: dict[str, np.ndarray], embed: Callable, texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in memo]
        if new:
            vectors = np.asarray(embed(new), dtype=np.float32)
            memo.update(zip(new, vectors, strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([memo[t] for t in texts])
