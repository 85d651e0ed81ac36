"""The embedder's query path without the training stack: the same sentence-transformers model,
exported once to ONNX and run with onnxruntime and `tokenizers`.

`import sentence_transformers` pulls in torch and transformers and costs seconds before a
question can be embedded; onnxruntime starts in a fraction of that. The export is the whole
sentence-transformers pipeline (transformer, pooling, normalisation) in one graph, made by
`docqa ingest` while torch is loaded anyway, and kept only if its vectors match the original
model's on probe texts (cosine >= MIN_COSINE), so the index and the questions stay in one
vector space. Long chunks are embedded with torch (faster there, see BENCHMARKS.md); short
texts (questions, answer and source sentences) with this.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docqa.errors import ModelError

MIN_COSINE = 0.99999
FORMAT = 1  # bump when the export changes, so old exports are made again
_PROBES = (
    "Which enzyme fixes carbon dioxide in the Calvin cycle?",
    "x",
    "Numbers 1889, 3.5 and names like Gustave Eiffel; punctuation: (a) [b] {c} «d» — e…",
    "Ünïcödé, 中文, العربية, emoji 🙂 and\ttabs\nand new lines.",
    # past the model's window, so truncation is checked too
    " ".join(f"word{i} and some filler text" for i in range(400)),
)


def export_dir(model_path: Path, cache_dir: Path) -> Path:
    """Where the export of the model folder at `model_path` lives: keyed on its files' names,
    sizes and modification times, so a changed model is exported again."""
    digest = hashlib.sha256(str(FORMAT).encode())
    root = Path(model_path).resolve()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        st = file.stat()
        digest.update(f"{file.relative_to(root)}:{st.st_size}:{int(st.st_mtime)}\n".encode())
    return Path(cache_dir) / "embedders" / f"{root.name}-{digest.hexdigest()[:16]}"


@dataclass(frozen=True)
class Export:
    """A verified export: the graph and the agreement measured when it was made."""

    path: Path
    min_cosine: float
    seconds: float
    made: bool = False  # made just now


def find_export(model_path: Path, cache_dir: Path) -> Export | None:
    """The verified export of this model, if `docqa ingest` has made one."""
    folder = export_dir(model_path, cache_dir)
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    graph = folder / "model.onnx"
    if meta.get("min_cosine", 0.0) < MIN_COSINE or not graph.is_file():
        return None
    return Export(graph, float(meta["min_cosine"]), float(meta.get("seconds", 0.0)))


def export(st_embedder, cache_dir: Path) -> Export:
    """Export the loaded sentence-transformers model to ONNX, check that it gives the same
    vectors, and keep it (written to a temporary name, then renamed). Raises ModelError when
    the export fails or disagrees with the original."""
    import torch

    started = time.perf_counter()
    st_embedder.load()
    model = st_embedder._model
    folder = export_dir(st_embedder.path, cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"model.onnx.{os.getpid()}.tmp"

    class Whole(torch.nn.Module):
        """The sentence-transformers pipeline as one module with tensor inputs."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            features = {
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "token_type_ids": token_type_ids,
            }
            return self.inner(features)["sentence_embedding"]

    sample = model.tokenizer(
        ["a short example", "a somewhat longer example sentence"],
        padding=True,
        return_tensors="pt",
    )
    names = ("input_ids", "attention_mask", "token_type_ids")
    if any(name not in sample for name in names):
        raise ModelError(f"cannot export {st_embedder.path}: its tokenizer lacks {names}")
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    try:
        import warnings

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Whole(model).eval(),
                tuple(sample[name] for name in names),
                str(tmp),
                input_names=list(names),
                output_names=["sentence_embedding"],
                dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        onnx = OnnxEmbedder(tmp, st_embedder)
        got = onnx.embed(list(_PROBES))
        want = st_embedder.embed(list(_PROBES))
        agreement = float(np.min(np.sum(got * want, axis=1)))
    except ModelError:
        tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:  # the exporter's and onnxruntime's errors are many and varied
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot export {st_embedder.path} to ONNX: {exc}") from exc
    if agreement < MIN_COSINE:
        tmp.unlink(missing_ok=True)
        raise ModelError(
            f"the ONNX export of {st_embedder.path} disagrees with the model "
            f"(cosine {agreement:.6f} < {MIN_COSINE}); questions are embedded with torch"
        )
    os.replace(tmp, folder / "model.onnx")
    seconds = time.perf_counter() - started
    meta = {"min_cosine": agreement, "seconds": round(seconds, 3), "probes": len(_PROBES)}
    (folder / "meta.json").write_text(json.dumps(meta))
    return Export(folder / "model.onnx", agreement, seconds, made=True)


class OnnxEmbedder:
    """Embeds with an exported graph; same name, dimension and window as the model it came
    from (`source`, a SentenceTransformerEmbedder whose tokenizer.json it reads)."""

    def __init__(self, graph: Path, source, threads: int | None = None):
        self.graph = Path(graph)
        self.source = source
        self.name = source.name
        self.dimension = source.dimension
        self.max_tokens = source.max_tokens
        self.threads = threads
        self.backend = "onnx"
        self._session = None
        self._encoder = None

    @property
    def tokenizer(self):
        return self.source.tokenizer

    def load(self) -> None:
        if self._session is not None:
            return
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads or os.cpu_count() or 1
            options.log_severity_level = 3
            self._session = ort.InferenceSession(
                str(self.graph), options, providers=["CPUExecutionProvider"]
            )
            encoder = Tokenizer.from_file(str(self.source.path / "tokenizer.json"))
        except Exception as exc:
            raise ModelError(f"cannot load the ONNX embedder {self.graph}: {exc}") from exc
        encoder.enable_truncation(self.max_tokens)
        pad = encoder.padding or {}  # keep the model's pad token, but pad to the longest text
        encoder.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._encoder = encoder

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.load()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # similar lengths together, so little of each batch is padding
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            part = order[start : start + batch_size]
            encodings = self._encoder.encode_batch([texts[i] for i in part])  # type: ignore[union-attr]
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            feed = {k: v for k, v in feed.items() if k in self._inputs}
            vectors = self._session.run(None, feed)[0]  # type: ignore[union-attr]
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            out[part] = vectors / np.maximum(norms, 1e-12)
        return out
