"""Retrieval: dense candidates (vector index) and lexical ones (FTS5), fused by reciprocal
rank fusion."""

from __future__ import annotations

import time

from docqa.adapters.protocols import Embedder
from docqa.errors import EmptyStoreError, UsageError
from docqa.flows.corpus import identity_of
from docqa.records import SearchResult
from docqa.store import Store

RRF_K = 60  # the constant of Cormack et al. (2009); damps the weight of top ranks


def clean_question(question: str) -> str:
    question = " ".join(question.split())
    if not question:
        raise UsageError("the question is empty")
    return question


def retrieve(
    question: str,
    *,
    store: Store,
    embedder: Embedder,
    index,
    k: int = 5,
    candidates: int | None = None,
) -> SearchResult:
    """The k best chunks for a question. The index must be open (see flows.corpus)."""
    question = clean_question(question)
    if k < 1:
        raise UsageError("-k must be at least 1")
    if store.chunk_count() == 0:
        raise EmptyStoreError("nothing has been ingested yet: run `docqa ingest PATH` first")
    store.check_embedder(identity_of(embedder))
    n = candidates or max(4 * k, 20)

    embedder.load()  # loading is not the embed stage's time
    t0 = time.perf_counter()
    vector = embedder.embed([question])[0]
    t1 = time.perf_counter()
    dense = index.query(vector, n)
    lexical = store.lexical_search(question, n)
    fields: dict[int, dict] = {}
    for rank, (cid, similarity) in enumerate(dense, start=1):
        f = fields.setdefault(cid, {"score": 0.0})
        f["score"] += 1.0 / (RRF_K + rank)
        f["dense_score"] = round(similarity, 6)
        f["dense_rank"] = rank
    for rank, cid in enumerate(lexical, start=1):
        f = fields.setdefault(cid, {"score": 0.0})
        f["score"] += 1.0 / (RRF_K + rank)
        f["lexical_rank"] = rank
    ranked = sorted(
        fields.items(),
        key=lambda kv: (-kv[1]["score"], -(kv[1].get("dense_score") or -1.0), kv[0]),
    )[:k]
    for _, f in ranked:
        f["score"] = round(f["score"], 6)
    hits = store.hits(ranked)
    t2 = time.perf_counter()
    timings = {"embed": t1 - t0, "retrieve": t2 - t1}
    return SearchResult(question, tuple(hits), timings, vector)
