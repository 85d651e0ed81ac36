"""The protocols flows depend on; real adapters and the tests' fakes both satisfy them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from docqa.guide.decode import Fill
from docqa.guide.slots import Slot
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


class VectorIndex(Protocol):
    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...

    def remove(self, ids: Sequence[int]) -> None: ...

    def query(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) pairs, best first."""
        ...

    def __len__(self) -> int: ...


class LLM(Protocol):
    """A language model that fills template-program slots (docqa.guide.program.Generator)."""

    name: str

    def load(self) -> None:
        """Load the model now (otherwise the first slot does); idempotent."""
        ...

    def role_markers(self) -> dict[str, tuple[str, str]]:
        """Chat-format text before and after a message, by role (see docqa.guide.chat)."""
        ...

    def fill(
        self, prompt: str, slot: Slot, *, heal: bool = True, cache_prefix: str | None = None
    ) -> Fill:
        """Generate the slot's value after `prompt`, held to its constraint; `heal` lets the
        decoder back up the prompt's last token (token healing); `cache_prefix` is the
        template's static prefix, whose KV state may come from the disk cache."""
        ...
