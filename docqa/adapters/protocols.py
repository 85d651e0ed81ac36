"""The protocols flows depend on; real adapters and the tests' fakes both satisfy them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from docqa.guide.types import Generator
from docqa.ingest.chunker import Tokenizer


class Embedder(Protocol):
    name: str  # recorded in the store; another name is refused
    dimension: int
    max_tokens: int  # the model's window, special tokens included

    @property
    def tokenizer(self) -> Tokenizer: ...

    def load(self) -> None:
        """Load the model now (otherwise the first embed does); idempotent."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


class ChunkEmbedder(Protocol):
    """A model that makes chunk vectors apart from the sentence embedder (an asymmetric one:
    passages and questions are embedded differently)."""

    name: str  # recorded in the store; another name is refused
    dimension: int

    def load(self) -> None: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors of passages, one row per text."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors of questions, in the passages' space."""
        ...


class VectorIndex(Protocol):
    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...

    def remove(self, ids: Sequence[int]) -> None: ...

    def query(
        self, vector: np.ndarray, k: int, exclude: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) pairs, best first, none of them in `exclude`."""
        ...

    def __len__(self) -> int: ...


# A language model, as template programs use it: one protocol, defined with the programs.
LLM = Generator
