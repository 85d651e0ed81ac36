"""The one place that builds the real adapters from settings; tests hand in fakes instead.

Everything is built on first use, so a command only loads what it needs.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from docqa.config import (
    DEFAULT_EMBEDDER_NAME,
    NOMIC,
    Settings,
    embedder_name,
    resolve_embedder_path,
    resolve_model_path,
)
from docqa.store import Store

if TYPE_CHECKING:  # (imported where used: `docs list` and `--help` load no vector code)
    from docqa.adapters.hnsw import HnswIndex
    from docqa.adapters.protocols import LLM, ChunkEmbedder, Embedder

NOMIC_MODEL = "nomic-embed-text-v1.5"  # the start of its identity in a store


class Components:
    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
        chunk_embedder: ChunkEmbedder | None = None,
    ):
        self.settings = settings
        if embedder is not None:  # a test's fake does both jobs, and has no export
            self.__dict__["embedder"] = self.__dict__["document_embedder"] = embedder
            self.__dict__["chunk_embedder"] = chunk_embedder
        if llm is not None:
            self.__dict__["llm"] = llm

    @cached_property
    def store(self) -> Store:
        return Store.open(self.settings.db_path)

    @cached_property
    def document_embedder(self):
        """The sentence-transformers model itself: ingest embeds chunks with it."""
        from docqa.adapters.embedder import SentenceTransformerEmbedder

        path = resolve_embedder_path(self.settings)
        name = DEFAULT_EMBEDDER_NAME if embedder_name(self.settings.embedder) else None
        return SentenceTransformerEmbedder(path, name=name)

    @cached_property
    def embedder_choice(self) -> tuple[str | None, int]:
        """The embedder of chunk vectors: a known name (None: a model folder's path) and,
        for nomic-embed, its dimension. The settings choose; when they do not, the store's
        own embedder does, so a store moved to nomic-embed by `docqa reindex` stays there."""
        s = self.settings
        recorded = self.store.corpus.embedder()
        stored_nomic = recorded is not None and recorded.name.startswith(NOMIC_MODEL)
        if s.embedder is not None:
            name = embedder_name(s.embedder)
        else:
            name = NOMIC if stored_nomic else embedder_name(None)
        dimension = s.embedder_dimension
        if dimension is None:
            dimension = recorded.dimension if stored_nomic and recorded else 768
        return name, dimension

    @cached_property
    def chunk_embedder(self) -> ChunkEmbedder | None:
        """What chunk vectors, and the questions searched against them, are embedded with
        when a model of their own makes them (nomic-embed, run by llama.cpp); None: the
        sentence embedder makes them too."""
        name, dimension = self.embedder_choice
        if name != NOMIC:
            return None
        from docqa.adapters.llama_embedder import LlamaEmbedder
        from docqa.config import resolve_nomic_path

        return LlamaEmbedder(
            resolve_nomic_path(self.settings),
            name=NOMIC_MODEL,
            dimension=dimension,
            threads=self.settings.threads,
        )

    @property
    def chunk_space(self) -> ChunkEmbedder | Embedder:
        """The embedder whose vectors the index holds."""
        return self.chunk_embedder or self.embedder

    def identities(self):
        """The (chunk vectors', sentence vectors') embedder identities the settings make."""
        from docqa.flows.corpus import identity_of

        return identity_of(self.chunk_space), identity_of(self.embedder)

    @cached_property
    def embedder(self) -> Embedder:
        """What questions and sentences are embedded with: the model's verified ONNX export
        when `docqa ingest` has made one (no torch import), else the model itself."""
        source = self.document_embedder
        if self.settings.query_embedder == "auto":
            from docqa.adapters.onnx_embedder import OnnxEmbedder, find_export

            found = find_export(source.path, self.settings.cache_dir)
            if found is not None:
                return OnnxEmbedder(found.path, source, threads=self.settings.threads)
        return source

    def prepare_query_embedder(self):
        """Make the ONNX export of the embedder if there is none yet (ingest calls this,
        while torch is loaded anyway). Returns the export, or the reason there is none."""
        from docqa.adapters.embedder import SentenceTransformerEmbedder
        from docqa.adapters.onnx_embedder import export, find_export
        from docqa.errors import ModelError

        source = self.document_embedder
        if not isinstance(source, SentenceTransformerEmbedder):
            return "the embedder is not a sentence-transformers model"
        if self.settings.query_embedder != "auto":
            return f"query_embedder is {self.settings.query_embedder!r}"
        found = find_export(source.path, self.settings.cache_dir)
        if found is not None:
            return found
        try:
            return export(source, self.settings.cache_dir)
        except ModelError as exc:
            return str(exc)

    @cached_property
    def llm(self) -> LLM:
        if self.settings.llm_url:
            return self.remote_llm()
        from docqa.adapters.llama import LlamaCppLLM

        return LlamaCppLLM(
            resolve_model_path(self.settings),
            n_ctx=self.settings.n_ctx,
            threads=self.settings.threads,
            cache_dir=self.settings.cache_dir,
            forcing=self.settings.grammar_forcing,
            buffers=self.settings.llm_buffers,
        )

    def model_runtime(self) -> dict:
        """The CPU, the llama.cpp build, and how the local model's weights are laid out on
        them and why (probed in child processes if no verdict is kept): `docqa doctor`."""
        from docqa.adapters.llama_runtime import cpu_info, llama_build
        from docqa.errors import ModelError

        cpu, build = cpu_info(), llama_build()
        injected = self.__dict__.get("llm")
        if self.settings.llm_url:
            backend = "remote"
        elif injected is not None and not hasattr(injected, "engine"):
            backend = "other"  # a model handed in by a program (or a test): no GGUF of ours
        else:
            backend = "local"
        report = {
            "cpu": {"model": cpu.model, "features": list(cpu.features)},
            "llama_cpp": {"version": build.version, "system_info": build.system_info},
            "backend": backend,
            "model": None,
            "weights": None,
            "error": None,
        }
        if backend != "local":
            return report
        try:
            engine = self.llm.engine  # built, not loaded: the choice is made before loading
            report["model"] = str(engine.path)
            report["weights"] = engine.runtime_choice().as_json()
        except ModelError as exc:
            report["error"] = str(exc)
        return report

    def remote_llm(self):
        """The model behind settings.llm_url. Its chat format comes from llm_chat_template,
        else from the server, else from the GGUF file --model names (or the bundled one, when
        the server serves that same file)."""
        from docqa.adapters.remote import ChatFormat, RemoteLLM
        from docqa.errors import ModelError

        s = self.settings
        chat = None
        if s.llm_chat_template is not None:
            try:
                text = s.llm_chat_template.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ModelError(
                    f"cannot read llm_chat_template {s.llm_chat_template}: {exc}"
                ) from exc
            chat = ChatFormat(text, source=str(s.llm_chat_template))
        try:
            gguf = resolve_model_path(s)
        except ModelError:
            gguf = None
        return RemoteLLM(
            s.llm_url,
            server=s.llm_server,
            timeout=s.llm_timeout,
            api_key=s.llm_api_key,
            chat_format=chat,
            local_gguf=gguf,
            gguf_given=s.model is not None,
        )

    def new_index(self, dimension: int | None = None) -> HnswIndex:
        """An index object for the store, not yet opened (the flows open it)."""
        from docqa.adapters.hnsw import HnswIndex

        dim = dimension if dimension is not None else self.chunk_space.dimension
        return HnswIndex(self.settings.index_path, dim)

    @cached_property
    def index(self) -> HnswIndex:
        """The vector index, opened and consistent with the store (whose embedder must be
        the one in use)."""
        from docqa.flows.corpus import open_index
        from docqa.lock import try_write_lock

        self.store.corpus.check_embedder(*self.identities())
        index = self.new_index()
        fingerprint = open_index(self.store, index, index.dimension, save=False)
        if index.rebuilt:
            # a reader that had to rebuild a stale index writes it back only when no writer is
            # at work and the store is still in the state it was built from; readers take the
            # lock only for that, so a writer is never told a mere reader is changing the store
            with try_write_lock(self.settings.home) as free:
                if free and self.store.corpus.fingerprint() == fingerprint:
                    index.save(fingerprint)
        return index

    def null_pool(self, profile=None, embedder=None):
        """The unrelated sentences groundedness is calibrated against, from the documents the
        profile may read (cached on disk); embedded with `embedder` (default: the question
        embedder; ingest passes the model it has loaded, so no second one is loaded)."""
        from docqa.flows.groundedness import pool_from_store

        return pool_from_store(
            self.store, embedder or self.embedder, self.settings.cache_dir, profile
        )

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()


def build(settings: Settings) -> Components:
    """The real components for these settings (the CLI calls this; tests replace it)."""
    return Components(settings)
