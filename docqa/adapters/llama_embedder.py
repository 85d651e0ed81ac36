"""A GGUF embedding model run by llama.cpp: nomic-embed-text-v1.5, for chunk vectors.

nomic-embed is asymmetric: passages are embedded as "search_document: TEXT" and questions as
"search_query: TEXT" (the model card's rule); its mean pooling is part of the GGUF. It is a
Matryoshka model: the leading 512, 256 or 128 of its 768 dimensions stand alone once the
full vector is layer-normalised (no affine weights), cut, and brought to unit length again.

Several passages share one llama.cpp batch (llama-cpp-python's `Llama.embed` gives each its
own sequence). Batches are 512 tokens: that holds any chunk docqa makes (at most 256 tokens)
with its title, headings and prefix; a longer text is cut at 512 tokens. `python
bench/embedders.py --adapter` times this adapter at 512, 1024 and 2048 tokens on the machine
at hand. The f16 file is used as it ships. Weights are kept in plain buffers: llama.cpp's
extra buffer types are the path that crashes on AMX machines (docqa.adapters.llama_runtime).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from docqa.errors import ModelError

QUERY_PREFIX = "search_query: "
DOCUMENT_PREFIX = "search_document: "
BATCH_TOKENS = 512
FULL_DIMENSION = 768


class LlamaEmbedder:
    """Unit-length float32 vectors of `dimension` (768, or a Matryoshka cut) from a GGUF
    embedding model; loaded on first use, once per process."""

    backend = "llama.cpp"

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        dimension: int = FULL_DIMENSION,
        threads: int | None = None,
        batch_tokens: int = BATCH_TOKENS,
    ):
        self.path = Path(path)
        self.model = name
        self.dimension = int(dimension)
        # the store's record of the vectors: another cut is another vector space
        self.name = name if self.dimension == FULL_DIMENSION else f"{name}@{self.dimension}"
        self.threads = threads
        self.batch_tokens = batch_tokens
        self._llm = None

    def load(self) -> None:
        if self._llm is not None:
            return
        if not self.path.is_file():
            raise ModelError(f"embedder file not found: {self.path}")
        from docqa.adapters.llama_engine import usable_cores
        from docqa.adapters.llama_runtime import model_params

        threads = self.threads or usable_cores()
        try:
            from llama_cpp import Llama

            with model_params(extra_buffers=False):
                llm = Llama(
                    model_path=str(self.path),
                    embedding=True,
                    n_ctx=self.batch_tokens,
                    n_batch=self.batch_tokens,
                    n_ubatch=self.batch_tokens,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=False,
                )
        except Exception as exc:  # llama.cpp reports load failures as ValueError/RuntimeError
            raise ModelError(f"cannot load embedder {self.path}: {exc}") from exc
        if llm.n_embd() < self.dimension:
            raise ModelError(
                f"embedder {self.path} makes {llm.n_embd()}-d vectors, fewer than the "
                f"{self.dimension} asked for"
            )
        self._llm = llm

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([DOCUMENT_PREFIX + t for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([QUERY_PREFIX + t for t in texts])

    # the symmetric use (a sentence against a sentence) reads both as documents
    embed = embed_documents

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.load()
        # llama.cpp's tokenizer meets NUL bytes and lone surrogates badly: text is text
        clean = [t.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8") for t in texts]
        # similar lengths share batches; one embed call packs them by tokens
        order = sorted(range(len(clean)), key=lambda i: len(clean[i]))
        try:
            found = self._llm.embed([clean[i] for i in order], truncate=True)  # type: ignore[union-attr]
        except Exception as exc:
            raise ModelError(f"embedder {self.path.name} failed: {exc}") from exc
        full = np.zeros((len(clean), len(found[0])), dtype=np.float32)
        full[order] = np.asarray(found, dtype=np.float32)
        return cut(full, self.dimension)


def cut(vectors: np.ndarray, dimension: int) -> np.ndarray:
    """Unit vectors of the leading `dimension` components (Matryoshka: layer norm first when
    cutting, as the model was trained). Scaled to unit length first, so a stored full vector
    cuts to exactly what the model's own output cuts to."""
    v = np.asarray(vectors, dtype=np.float32)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    if dimension < v.shape[1]:
        v = v - v.mean(axis=1, keepdims=True)
        v = v / np.sqrt(v.var(axis=1, keepdims=True) + 1e-5)
        v = v[:, :dimension]
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.ascontiguousarray(v / np.maximum(norms, 1e-12), dtype=np.float32)
