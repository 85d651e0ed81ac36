"""Groundedness: is each sentence of an answer supported by the sources it cites?

No NLI model ships offline here, so support is measured three ways, as Ragas and TruLens do
with a judge model, but with checks that cannot be talked round:

- verbatim: the sentence (normalised) occurs in a cited source: supported outright;
- semantic: its best cosine similarity to a sentence of the cited sources, calibrated against
  the same statistic over *unrelated* sentences (a pool drawn from other documents): the
  sentence is supported when that similarity is higher than the best match in at least 95% of
  random unrelated source sets of the same size (an empirical p-value,
  p = (1 + #{null >= observed}) / (B + 1));
- facts: every number, date, name and quoted span in the sentence occurs in the cited sources.

A sentence is supported when it is verbatim, or semantically supported with no missing fact.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docqa.flows.keyterms import key_terms
from docqa.records import Grounding, SentenceSupport

ALPHA = 0.05  # a sentence is semantically supported when p <= ALPHA
NULL_DRAWS = 199  # random unrelated source sets per sentence (p resolves to 0.005)
MIN_POOL = 20  # fewer unrelated sentences than this: semantic support cannot be calibrated

_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]*[A-Z0-9])|\n+")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(r"[\"“]([^\"”]{3,80})[\"”]")
_WORD = re.compile(r"[A-Za-z][\w'-]*")


def sentence_spans(text: str, min_chars: int = 1) -> list[tuple[int, int]]:
    """(start, end) offsets of a text's sentences (lines are boundaries too), white space
    trimmed; parts shorter than `min_chars` or without a letter or digit are dropped."""
    out, start = [], 0
    for boundary in [*_SPLIT.finditer(text), None]:
        end = boundary.start() if boundary else len(text)
        part = text[start:end]
        a = start + len(part) - len(part.lstrip())
        b = start + len(part.rstrip())
        if b - a >= min_chars and any(c.isalnum() for c in text[a:b]):
            out.append((a, b))
        start = boundary.end() if boundary else len(text)
    return out


def split_sentences(text: str, min_chars: int = 1) -> list[str]:
    """Sentences of a text (lines are boundaries too); parts without a letter or digit are
    dropped."""
    return [text[a:b] for a, b in sentence_spans(text, min_chars)]


def normalise(text: str) -> str:
    """Case-, accent- and whitespace-insensitive form used for verbatim and fact checks."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")
    return " ".join(re.sub(r"[^\w%°'.,-]+", " ", text.lower()).split())


def facts(sentence: str) -> list[str]:
    """The checkable facts of a sentence: numbers (dates and years included), names
    (capitalised words that do not start the sentence), quoted spans, and the terms a reader
    copies as they are (docqa.flows.keyterms: identifiers, options, upper-case keywords)."""
    found: list[tuple[int, str]] = []  # (position, fact): reported in reading order
    for m in _NUMBER.finditer(sentence):
        found.append((m.start(), m.group().replace(",", "").lstrip("+")))
    for m in _QUOTED.finditer(sentence):
        found.append((m.start(), m.group(1)))
    for term in key_terms(sentence):  # identifiers, options, keywords: io_method, -D, BRIN
        if not _NUMBER.fullmatch(term):
            found.append((max(0, sentence.find(term)), term))
    words = list(_WORD.finditer(sentence))
    for i, m in enumerate(words):
        w = m.group()
        if i == 0 or not w[0].isupper() or len(w) < 2:
            continue
        before = sentence[: m.start()].rstrip()
        if before.endswith((".", "!", "?", ":", '"', "\u201c")):
            continue  # starts a sentence or a quotation: capitalised anyway
        found.append((m.start(), w))
    seen: set[str] = set()
    ordered = [f for _, f in sorted(found, key=lambda pf: pf[0])]
    return [f for f in ordered if not (f.lower() in seen or seen.add(f.lower()))]


def missing_facts(sentence: str, source_text: str) -> list[str]:
    """The facts of `sentence` that do not occur in `source_text`."""
    return _absent(facts(sentence), source_text)


def missing_terms(answer: str, source_text: str) -> list[str]:
    """The key terms of `answer` (docqa.flows.keyterms) that do not occur in `source_text`,
    matched as facts are."""
    return _absent(key_terms(answer), source_text)


def _absent(candidates: Sequence[str], source_text: str) -> list[str]:
    haystack = normalise(source_text)
    digits = haystack.replace(",", "")
    missing = []
    for fact in candidates:
        needle = normalise(fact)
        if not needle:
            continue
        if needle[0].isdigit() or needle[0] in "+-":
            needle = needle.replace(",", "")  # 1,600 is 1600
            if not re.search(rf"(?<![\w.]){re.escape(needle)}(?![\d]|[.,]\d)", digits):
                missing.append(fact)
        elif not re.search(rf"(?<!\w){re.escape(needle)}", haystack):
            missing.append(fact)
    return missing


@dataclass(frozen=True)
class NullPool:
    """Sentences unrelated to the answer's sources, with their unit vectors and the document
    (path) each came from, so the cited documents' own sentences can be left out."""

    sentences: tuple[str, ...]
    documents: tuple[str, ...]
    vectors: np.ndarray

    def excluding(self, documents: set[str]) -> np.ndarray:
        keep = [i for i, d in enumerate(self.documents) if d not in documents]
        return self.vectors[keep]


def build_pool(chunks: Sequence[tuple[str, str]], embedder, max_sentences: int = 400) -> NullPool:
    """A null pool from (document path, chunk text) pairs: their sentences, embedded."""
    sentences: list[str] = []
    documents: list[str] = []
    for doc, text in chunks:
        for s in split_sentences(text, min_chars=12):
            sentences.append(s)
            documents.append(doc)
            if len(sentences) >= max_sentences:
                break
        if len(sentences) >= max_sentences:
            break
    if sentences:
        vectors = np.asarray(embedder.embed(sentences), dtype=np.float32)
    else:
        vectors = np.zeros((0, getattr(embedder, "dimension", 1)), dtype=np.float32)
    return NullPool(tuple(sentences), tuple(documents), vectors)


POOL_CHUNKS = 48  # chunks sampled from the corpus for the unrelated-sentence pool
_pools: dict[tuple, NullPool] = {}


def pool_from_store(store, embedder, cache_dir: Path | None = None, profile=None) -> NullPool:
    """The null pool of a store: sentences of POOL_CHUNKS chunks spread over the documents
    the profile may read (so no verdict depends on text it may not see), kept per process,
    and in `cache_dir` across processes, until the store changes."""
    fingerprint = (store.corpus.fingerprint(), store.corpus.access_version())
    groups = None if profile is None else tuple(profile.groups)
    key = (id(store), fingerprint, embedder.name, groups)
    if key in _pools:
        return _pools[key]
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(repr((fingerprint, embedder.name, POOL_CHUNKS, groups)).encode())
        path = Path(cache_dir) / f"pool-{digest.hexdigest()[:24]}.npz"
    pool = _load_pool(path) if path is not None else None
    if pool is None:
        pool = build_pool(store.corpus.sample_chunks(POOL_CHUNKS, profile), embedder)
        if path is not None:
            _save_pool(pool, path)
    if len(_pools) > 8:
        _pools.clear()
    _pools[key] = pool
    return pool


def _save_pool(pool: NullPool, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(
            tmp,
            sentences=np.array(pool.sentences, dtype=str),
            documents=np.array(pool.documents, dtype=str),
            vectors=pool.vectors,
        )
        os.replace(tmp, path)
    except OSError:
        pass  # only slower next time


def _load_pool(path: Path) -> NullPool | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return NullPool(
                tuple(str(x) for x in data["sentences"]),
                tuple(str(x) for x in data["documents"]),
                np.asarray(data["vectors"], dtype=np.float32),
            )
    except (OSError, ValueError, KeyError):
        return None


def check(
    answer: str,
    sources: Sequence[tuple[int, str, str]],
    embedder,
    pool: NullPool,
    given: str = "",
) -> Grounding:
    """Support of each sentence of `answer` by `sources`: (source number, document path,
    text) for each cited source. `given` is text the model was shown besides the sources'
    sentences (their titles and headings): a name or number it holds is not invented."""
    claims = split_sentences(answer)
    if not claims:
        return Grounding()
    source_sents: list[tuple[int, str]] = [
        (n, s) for n, _, text in sources for s in split_sentences(text)
    ]
    joined = "\n".join(text for _, _, text in sources)
    flat = normalise(joined)
    texts = claims + [s for _, s in source_sents]
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    claim_vecs, source_vecs = vectors[: len(claims)], vectors[len(claims) :]
    null_vecs = pool.excluding({d for _, d, _ in sources})
    normalised: list[str] | None = None  # the source sentences, normalised once if needed
    out = []
    for claim, vec in zip(claims, claim_vecs, strict=True):
        norm = normalise(claim).rstrip(".")
        verbatim = bool(norm) and len(norm) >= 3 and _occurs(norm, flat)
        if len(source_sents):
            sims = source_vecs @ vec
            if verbatim:  # the nearest sentence is one that holds the claim, if one does
                if normalised is None:
                    normalised = [normalise(t) for _, t in source_sents]
                holding = [i for i, t in enumerate(normalised) if _occurs(norm, t)]
                if holding:
                    sims = np.where(np.isin(np.arange(len(sims)), holding), sims, -2.0)
            best = int(np.argmax(sims))
            score, (source, nearest) = float(source_vecs[best] @ vec), source_sents[best]
        else:
            score, source, nearest = 0.0, None, ""
        missing = tuple(missing_facts(claim, f"{joined}\n{given}" if given else joined))
        threshold = p = None
        if len(null_vecs) >= MIN_POOL and source_sents:
            null = null_maxima(null_vecs @ vec, len(source_sents), claim)
            threshold = float(np.quantile(null, 1 - ALPHA))
            p = float((1 + np.sum(null >= score)) / (len(null) + 1))
        semantic = p is not None and p <= ALPHA
        if verbatim:
            how = "verbatim"
        elif semantic and not missing:
            how = "semantic"
        else:
            how = "unsupported"
        out.append(
            SentenceSupport(
                text=claim,
                supported=how != "unsupported",
                how=how,
                score=round(score, 4),
                threshold=None if threshold is None else round(threshold, 4),
                p=None if p is None else round(p, 4),
                source=source,
                nearest=nearest,
                missing=() if verbatim else missing,
            )
        )
    return Grounding(tuple(out))


def null_maxima(similarities: np.ndarray, size: int, claim: str) -> np.ndarray:
    """The best similarity within each of NULL_DRAWS random sets of `size` unrelated
    sentences (deterministic per claim)."""
    seed = int.from_bytes(hashlib.sha256(claim.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    size = min(size, len(similarities))
    picks = np.argsort(rng.random((NULL_DRAWS, len(similarities))), axis=1)[:, :size]
    return similarities[picks].max(axis=1)


def _occurs(needle: str, haystack: str) -> bool:
    """`needle` occurs in `haystack` as whole words ("climb 67" is not in "climb 674")."""
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None
