"""Retrieval: candidates from the vector index and from full-text search (FTS5), ranked by
one score that adds what each says about a chunk.

    own   = dense + sentence_weight * sentence + lexical_weight * lexical
    score = own + document_weight * (the best `own` among the candidates of its document)

`dense` is the cosine similarity of the question to the chunk's vector (made with its title
and heading path, docqa.ingest.passages), `sentence` the similarity to the chunk's best
sentence (a factoid question is usually answered by one), `lexical` the chunk's bm25 as a
fraction of the best lexical match's (0 when full-text search did not find it). The document
term lifts chunks of the page that is most about the question as a whole. The weights were
chosen on the dev half of bench/data/postgres15.jsonl (bench/retrieval_quality.py,
BENCHMARKS.md); together they beat reciprocal rank fusion of the dense and lexical rankings
there on every measure. A chunk stored before sentence vectors scores its dense similarity
for both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from docqa.adapters.protocols import Embedder
from docqa.errors import EmptyStoreError, UsageError
from docqa.flows.corpus import identity_of
from docqa.records import PassageVectors, Profile, SearchResult
from docqa.store import Store

SENTENCE_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.3
DOCUMENT_WEIGHT = 0.3


@dataclass(frozen=True)
class Ranking:
    """The weights of the best-sentence, lexical and document scores beside the dense one
    (settings `sentence_weight`, `lexical_weight` and `document_weight`)."""

    sentence_weight: float = SENTENCE_WEIGHT
    lexical_weight: float = LEXICAL_WEIGHT
    document_weight: float = DOCUMENT_WEIGHT


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
    ranking: Ranking = Ranking(),
    chunk_embedder=None,
) -> SearchResult:
    """The k best chunks for a question. `also` are more queries for the same need (a
    rewrite, the question with its conversation's context); a chunk keeps its best score over
    the queries. With a profile, only chunks it may read are searched: excluded inside
    the vector index's search and the full-text query, so k results still come back when k
    permitted chunks exist (`forbidden`: the profile's forbidden chunk ids, when the caller
    already has them). `chunk_embedder` embeds the queries searched against the chunk
    vectors when a model of its own made those (None: the embedder did); the embedder's
    query vector is scored against sentences. The index must be open (see flows.corpus)."""
    question = clean_question(question)
    queries = [question] + [q for q in (" ".join(a.split()) for a in also) if q]
    if k < 1:
        raise UsageError("-k must be at least 1")
    total = store.corpus.chunk_count()
    if total == 0:
        raise EmptyStoreError("nothing has been ingested yet: run `docqa ingest PATH` first")
    store.corpus.check_embedder(identity_of(chunk_embedder or embedder), identity_of(embedder))
    n = candidates or candidates_for(k)

    embedder.load()  # loading is not the embed stage's time
    if chunk_embedder is not None:
        chunk_embedder.load()
    t0 = time.perf_counter()
    vectors = embedder.embed(queries)
    dense_vectors = vectors if chunk_embedder is None else chunk_embedder.embed_queries(queries)
    t1 = time.perf_counter()
    if forbidden is None:
        forbidden = store.corpus.forbidden_chunks(profile) if profile is not None else set()
    readable = total - len(forbidden)
    fields: dict[int, dict] = {}
    found = []  # per query: its lexical scores
    for query, vector in zip(queries, dense_vectors, strict=True):
        dense = _dense(store, index, vector, min(n, readable), forbidden, profile)
        lexical = store.corpus.lexical_scores(query, n, profile)
        for rank, (cid, _) in enumerate(dense, start=1):
            f = fields.setdefault(cid, {})
            f["dense_rank"] = min(rank, f.get("dense_rank") or rank)
        for rank, (cid, _) in enumerate(lexical, start=1):
            f = fields.setdefault(cid, {})
            f["lexical_rank"] = min(rank, f.get("lexical_rank") or rank)
        found.append(lexical)
    passages = store.corpus.passage_vectors(list(fields))
    for cid in list(fields):
        if cid not in passages:  # removed since the index was saved
            del fields[cid]
    for vector, dense_vector, lexical in zip(vectors, dense_vectors, found, strict=True):
        best = lexical[0][1] if lexical and lexical[0][1] > 0 else 1.0
        bm25 = {cid: score / best for cid, score in lexical}
        q = (np.asarray(vector, np.float32), np.asarray(dense_vector, np.float32))
        scored = {cid: _score(passages[cid], q, bm25.get(cid, 0.0), ranking) for cid in fields}
        top: dict[int, float] = {}  # per document, its best chunk's own score
        for cid, f in scored.items():
            doc = passages[cid].document_id
            top[doc] = max(top.get(doc, -np.inf), f["score"])
        for cid, f in scored.items():
            f["document_score"] = round(top[passages[cid].document_id], 6)
            f["score"] = round(f["score"] + ranking.document_weight * f["document_score"], 6)
            if f["score"] > fields[cid].get("score", -np.inf):
                fields[cid].update(f)
    order = sorted(fields.items(), key=lambda kv: (-kv[1]["score"], -kv[1]["dense_score"], kv[0]))
    ranked = order[:k]
    hits = store.corpus.hits(ranked, profile)
    t2 = time.perf_counter()
    timings = {"embed": t1 - t0, "retrieve": t2 - t1}
    return SearchResult(question, tuple(hits), timings, vectors[0], tuple(queries))


def _score(passage: PassageVectors, question, lexical: float, ranking: Ranking) -> dict:
    """A chunk's score fields for one question's (sentence-space, chunk-space) vectors (see
    the module's docstring)."""
    dense = float(passage.vector @ question[1])
    sentence, span = dense, None
    if passage.sentences is not None and len(passage.spans):
        sims = passage.sentences @ question[0]
        best = int(np.argmax(sims))
        sentence, span = float(sims[best]), passage.spans[best]
    return {
        "score": dense + ranking.sentence_weight * sentence + ranking.lexical_weight * lexical,
        "dense_score": round(dense, 6),
        "sentence_score": round(sentence, 6),
        "lexical_score": round(lexical, 6),
        "sentence": span,
    }


def _dense(store: Store, index, vector, n: int, forbidden: set[int], profile: Profile | None):
    """The n nearest chunks the profile may read. hnswlib's filtered search can come back
    short when few chunks are permitted; then the permitted ones are searched exactly."""
    found = index.query(vector, n, forbidden or None)
    if not forbidden or len(found) >= n:  # n is at most the number of readable chunks
        return found
    ids, vectors = store.corpus.permitted_embeddings(profile)
    if len(ids) <= len(found):
        return found
    sims = vectors @ np.asarray(vector, dtype=np.float32)
    best = np.argsort(-sims, kind="stable")[:n]
    return [(ids[i], float(sims[i])) for i in best]
