"""Retrieval: dense candidates (vector index) and lexical ones (FTS5), fused by reciprocal
rank fusion."""

from __future__ import annotations

import time

import numpy as np

from docqa.adapters.protocols import Embedder
from docqa.errors import EmptyStoreError, UsageError
from docqa.flows.corpus import identity_of
from docqa.records import Profile, SearchResult
from docqa.store import Store

RRF_K = 60  # the constant of Cormack et al. (2009); damps the weight of top ranks


MAX_QUESTION_CHARS = 4000  # a question, not a document: long text belongs in `docqa ingest`
# C0 and C1 control characters (NUL, ESC, BEL, DEL, ...): a question is printable text
_CONTROLS = dict.fromkeys([*range(0x20), *range(0x7F, 0xA0)], " ")


def clean_question(question: str) -> str:
    """The question as the flows use it: control characters (terminal escapes, NULs) become
    spaces and runs of white space one space. Empty or overlong questions are usage errors."""
    question = " ".join(question.translate(_CONTROLS).split())
    if not question:
        raise UsageError("the question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise UsageError(
            f"the question is {len(question):,} characters; the limit is "
            f"{MAX_QUESTION_CHARS:,} (put long text in a document and ingest it)"
        )
    return question


def clean_session(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.strip()
    if not name or len(name) > 100 or any(not c.isprintable() for c in name):
        raise UsageError("a session name is 1 to 100 printable characters")
    return name


CANDIDATES_MIN = 20  # dense and lexical candidates fetched per query, at least


def candidates_for(k: int) -> int:
    """How many candidates each search fetches for a top-k answer, before fusion."""
    return max(4 * k, CANDIDATES_MIN)


def retrieve(
    question: str,
    *,
    store: Store,
    embedder: Embedder,
    index,
    k: int = 5,
    candidates: int | None = None,
    also: tuple[str, ...] = (),
    profile: Profile | None = None,
    forbidden: set[int] | None = None,
) -> SearchResult:
    """The k best chunks for a question. `also` are more queries for the same need (a
    rewrite, the question with its conversation's context); every query's dense and lexical
    rankings are fused. With a profile, only chunks it may read are searched: excluded inside
    the vector index's search and the full-text query, so k results still come back when k
    permitted chunks exist (`forbidden`: the profile's forbidden chunk ids, when the caller
    already has them). The index must be open (see flows.corpus)."""
    question = clean_question(question)
    queries = [question] + [q for q in (" ".join(a.split()) for a in also) if q]
    if k < 1:
        raise UsageError("-k must be at least 1")
    total = store.chunk_count()
    if total == 0:
        raise EmptyStoreError("nothing has been ingested yet: run `docqa ingest PATH` first")
    store.check_embedder(identity_of(embedder))
    n = candidates or candidates_for(k)

    embedder.load()  # loading is not the embed stage's time
    t0 = time.perf_counter()
    vectors = embedder.embed(queries)
    t1 = time.perf_counter()
    if forbidden is None:
        forbidden = store.forbidden_chunks(profile) if profile is not None else set()
    readable = total - len(forbidden)
    fields: dict[int, dict] = {}
    for query, vector in zip(queries, vectors, strict=True):
        dense = _dense(store, index, vector, min(n, readable), forbidden, profile)
        for rank, (cid, similarity) in enumerate(dense, start=1):
            f = fields.setdefault(cid, {"score": 0.0})
            f["score"] += 1.0 / (RRF_K + rank)
            if similarity > (f.get("dense_score") or -2.0):
                f["dense_score"] = round(similarity, 6)
            f["dense_rank"] = min(rank, f.get("dense_rank") or rank)
        for rank, cid in enumerate(store.lexical_search(query, n, profile), start=1):
            f = fields.setdefault(cid, {"score": 0.0})
            f["score"] += 1.0 / (RRF_K + rank)
            f["lexical_rank"] = min(rank, f.get("lexical_rank") or rank)
    ranked = sorted(
        fields.items(),
        key=lambda kv: (-kv[1]["score"], -(kv[1].get("dense_score") or -1.0), kv[0]),
    )[:k]
    for _, f in ranked:
        f["score"] = round(f["score"], 6)
    hits = store.hits(ranked, profile)
    t2 = time.perf_counter()
    timings = {"embed": t1 - t0, "retrieve": t2 - t1}
    return SearchResult(question, tuple(hits), timings, vectors[0], tuple(queries))


def _dense(store: Store, index, vector, n: int, forbidden: set[int], profile: Profile | None):
    """The n nearest chunks the profile may read. hnswlib's filtered search can come back
    short when few chunks are permitted; then the permitted ones are searched exactly."""
    found = index.query(vector, n, forbidden or None)
    if not forbidden or len(found) >= n:  # n is at most the number of readable chunks
        return found
    ids, vectors = store.permitted_embeddings(profile)
    if len(ids) <= len(found):
        return found
    sims = vectors @ np.asarray(vector, dtype=np.float32)
    best = np.argsort(-sims, kind="stable")[:n]
    return [(ids[i], float(sims[i])) for i in best]
