"""The sentence-transformers embedder (all-MiniLM-L6-v2 by default), loaded from a local folder.

Its tokenizer is read straight from tokenizer.json with the `tokenizers` library, so chunking
and identity checks never import torch; the model itself loads on the first `embed`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from docqa.errors import ModelError


class HFTokenizer:
    """A `tokenizers` fast tokenizer, with truncation and padding off."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as exc:
            raise ModelError(f"cannot load tokenizer {path}: {exc}") from exc
        self._tok.no_truncation()
        self._tok.no_padding()
        self.specials = len(self._tok.encode("", add_special_tokens=True).ids)

    def offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        encodings = self._tok.encode_batch(list(texts), add_special_tokens=False)
        return [list(e.offsets) for e in encodings]


class SentenceTransformerEmbedder:
    """Embeds with sentence-transformers; vectors are unit length, float32."""

    def __init__(self, path: Path, name: str | None = None, batch_size: int = 32):
        self.path = Path(path)
        self.name = name or self.path.name
        self.batch_size = batch_size
        self._model = None
        self._tokenizer: HFTokenizer | None = None
        self.dimension, self.max_tokens = self._read_config()

    def _read_config(self) -> tuple[int, int]:
        dim = None
        for pooling in sorted(self.path.glob("*Pooling*/config.json")):
            dim = json.loads(pooling.read_text()).get("word_embedding_dimension")
        if dim is None and (self.path / "config.json").is_file():
            dim = json.loads((self.path / "config.json").read_text()).get("hidden_size")
        max_len = 512
        sbert = self.path / "sentence_bert_config.json"
        if sbert.is_file():
            max_len = json.loads(sbert.read_text()).get("max_seq_length", max_len)
        if dim is None:
            raise ModelError(f"cannot tell the embedding size of {self.path}")
        return int(dim), int(max_len)

    @property
    def tokenizer(self) -> HFTokenizer:
        if self._tokenizer is None:
            file = self.path / "tokenizer.json"
            if not file.is_file():
                raise ModelError(f"embedder folder {self.path} has no tokenizer.json")
            self._tokenizer = HFTokenizer(file)
        return self._tokenizer

    def load(self) -> None:
        if self._model is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            self._model = SentenceTransformer(str(self.path), device="cpu")
        except Exception as exc:
            raise ModelError(f"cannot load embedder from {self.path}: {exc}") from exc

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.load()
        vectors = self._model.encode(  # type: ignore[union-attr]
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
