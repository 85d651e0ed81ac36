"""What docqa does for a caller, wired from the components (docqa.components): ingest,
search and ask, with the settings' choices (ranking weights, the asker's profile, the
groundedness pool). The CLI calls these for every question and ingest; the benches call `ask`
(their ingests call docqa.flows.ingest itself, to time it, and loop.py the pool apart).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from docqa.components import Components
    from docqa.flows.ask import AskOptions
    from docqa.flows.events import Listener
    from docqa.flows.ingest import IngestProgress
    from docqa.flows.retrieve import Ranking
    from docqa.records import Answer, IngestReport, Profile, SearchResult


@dataclass(frozen=True)
class Ingested:
    report: IngestReport
    # what `ask` will embed questions with: the verified ONNX export, or why there is none
    query_embedder: object


def profile(comps: Components) -> Profile:
    """The profile of the settings' user (the anonymous one when none is set)."""
    from docqa.records import ANONYMOUS

    if comps.settings.user is None:
        return ANONYMOUS
    from docqa.flows.users import profile as stored

    return stored(comps.store, comps.settings.user)


def ranking(comps: Components) -> Ranking:
    """The retrieval weights the settings choose."""
    from docqa.flows.retrieve import Ranking

    s = comps.settings
    return Ranking(s.sentence_weight, s.lexical_weight, s.document_weight)


def search(comps: Components, question: str, k: int, who: Profile | None) -> SearchResult:
    """The k chunks that best match the question, among those `who` may read (None: all)."""
    from docqa.flows.retrieve import retrieve

    return retrieve(
        question,
        store=comps.store,
        embedder=comps.embedder,
        index=comps.index,
        k=k,
        profile=who,
        ranking=ranking(comps),
        chunk_embedder=comps.chunk_embedder,
    )


def ask(
    comps: Components, question: str, options: AskOptions, listener: Listener | None = None
) -> Answer:
    """Answer a question through the answer loop, retrieving as the settings rank, with
    groundedness calibrated on the documents the asker may read (cached on disk);
    `listener` is told the loop's events as they happen (docqa.flows.events)."""
    from docqa.flows.ask import ask as answer

    options = replace(options, ranking=ranking(comps))
    if options.context_tokens is None:
        options = replace(options, context_tokens=comps.settings.context_tokens)
    return answer(
        question,
        store=comps.store,
        embedder=comps.embedder,
        index=comps.index,
        llm=comps.llm,
        options=options,
        pool=lambda: comps.null_pool(options.user),
        listener=listener,
        chunk_embedder=comps.chunk_embedder,
    )


def ingest(
    comps: Components,
    paths: Sequence[Path],
    *,
    prune: bool = False,
    groups: Sequence[str] | None = None,
    progress: IngestProgress | None = None,
) -> Ingested:
    """Add, update (and with `prune`, remove) documents; then make the query embedder's
    ONNX export if there is none, and the groundedness pool for readers of public
    documents, so the next `ask` finds both ready. The caller holds the write lock."""
    from docqa.flows.ingest import ingest as run
    from docqa.records import ANONYMOUS

    s = comps.settings
    report = run(
        paths,
        store=comps.store,
        embedder=comps.document_embedder,
        index=comps.new_index(),
        max_tokens=s.chunk_tokens,
        overlap=s.chunk_overlap,
        prune=prune,
        progress=progress,
        groups=groups,
        max_bytes=int(s.max_file_mb * 1e6),
        chunk_embedder=comps.chunk_embedder,
        sentence_vectors=s.sentence_vectors,
    )
    query = comps.prepare_query_embedder()
    if report.chunks_total:
        # built here (cached on disk) rather than during the next ask, with the model this
        # run loaded to embed chunks, if it did
        loaded = comps.document_embedder if report.chunks_added else None
        comps.null_pool(ANONYMOUS, loaded)
    _prepare_reader(comps)
    return Ingested(report, query)


def reindex(comps: Components, progress=None):
    """Re-embed the store's chunks (and sentences, if their model changes) for the embedder
    the settings name, from the text the store holds; the caller holds the write lock."""
    from docqa.flows.ingest import Embeddings
    from docqa.flows.reindex import reindex as run

    s = comps.settings
    embeddings = Embeddings(comps.document_embedder, comps.chunk_embedder, s.sentence_vectors)
    index = comps.new_index(comps.chunk_space.dimension)
    return run(store=comps.store, embeddings=embeddings, index=index, progress=progress)


def _prepare_reader(comps: Components) -> None:
    """Join and check the reader model now (a model shipped in parts is joined once), so the
    first ask does not; a missing model is reported by the ask that needs it."""
    from contextlib import suppress

    from docqa.config import resolve_model_path
    from docqa.errors import ModelError

    if not comps.settings.llm_url:
        with suppress(ModelError):
            resolve_model_path(comps.settings)
