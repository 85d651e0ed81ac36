"""What the reader model sees: the sentences of the retrieved chunks that best match the
question, with their neighbours, up to a token budget, instead of k whole chunks.

Prefill is the cost that grows with the model, and a small model reads a short, relevant
context better than a long one. Each sentence of the retrieved chunks is scored by its
similarity to the question (the sentence vectors stored at ingest, so nothing is embedded
again) plus the share of the question's words it holds. The best sentences are taken alone
until FIRST_SHARE of the budget is spent (so several candidate answers are seen, not one
long passage), then the sentence before and after each (a sentence alone often lacks its
subject), then more sentences, until the budget is spent. Each source then shows its chosen
sentences in document order, "..." where sentences were skipped. Sources with nothing chosen
are not shown; the sources shown keep their chunk, so citations still point to chunks with
their lines or page.

A budget of 0 shows the whole chunks, as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from docqa.flows.groundedness import sentence_spans
from docqa.records import Hit, PassageVectors

DEFAULT_BUDGET = 200  # tokens of sources the reader sees (settings `context_tokens`)
CHARS_PER_TOKEN = 4  # English prose in the readers' tokenizers; code and numbers run lower
NEIGHBOURS = 1  # sentences shown on each side of a chosen one
FIRST_SHARE = 0.6  # of the budget, spent on the best sentences alone before any neighbour
LEXICAL_WEIGHT = 0.3  # the weight of the share of question words a sentence holds
RANK_PENALTY = 0.02  # per retrieval rank: ties go to the better-ranked chunk
GAP = " ... "
ABSORB_CHARS = 80  # text without a vector of its own after a sentence, shown with it
_WORD = re.compile(r"[A-Za-z0-9_]+")
_STOP = frozenset(
    "a an and are as at be by can do does for from how i in is it its me my of on or the this "
    "to was what when where which who why will with you your".split()
)


@dataclass(frozen=True)
class Excerpt:
    """One source as the reader sees it."""

    hit: Hit
    text: str  # the chosen sentences, in order, with GAP between runs


def words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w not in _STOP}


def focus(
    hits: Sequence[Hit],
    question: str,
    question_vector: np.ndarray,
    passages: dict[int, PassageVectors],
    budget: int,
) -> list[Excerpt]:
    """The excerpts of `hits` within about `budget` tokens (0: every hit whole)."""
    if budget <= 0:
        return [Excerpt(h, h.text) for h in hits]
    q = np.asarray(question_vector, dtype=np.float32)
    asked = words(question)
    scored: list[tuple[float, int, int]] = []  # (score, hit index, sentence index)
    spans_of: list[list[tuple[int, int]]] = []
    for h_i, hit in enumerate(hits):
        spans, sims = _sentences(hit, passages.get(hit.chunk_id), q)
        spans_of.append(spans)
        for s_i, (a, b) in enumerate(spans):
            overlap = len(asked & words(hit.text[a:b])) / len(asked) if asked else 0.0
            score = sims[s_i] + LEXICAL_WEIGHT * overlap - RANK_PENALTY * h_i
            scored.append((score, h_i, s_i))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    chosen: dict[int, set[int]] = {}
    total = budget * CHARS_PER_TOKEN
    used = 0

    def take(h_i: int, s_i: int, limit: float) -> bool:
        nonlocal used
        spans = spans_of[h_i]
        picked = chosen.setdefault(h_i, set())
        if s_i in picked or not 0 <= s_i < len(spans):
            return False
        cost = spans[s_i][1] - spans[s_i][0] + 1
        if used + cost > limit:
            return False
        picked.add(s_i)
        used += cost
        return True

    # the best sentences alone first, then their neighbours, then more sentences
    best = [
        (h_i, s_i)
        for n, (_, h_i, s_i) in enumerate(scored)
        if take(h_i, s_i, total if n == 0 else FIRST_SHARE * total)
    ]
    for h_i, s_i in best:
        for j in range(1, NEIGHBOURS + 1):
            take(h_i, s_i - j, total)
            take(h_i, s_i + j, total)
    for _, h_i, s_i in scored:
        take(h_i, s_i, total)
    out = []
    for h_i, hit in enumerate(hits):
        picked = sorted(chosen.get(h_i, ()))
        if not picked:
            continue
        spans = [spans_of[h_i][j] for j in picked]
        text, last, end = "", None, 0
        for j, (a, b) in zip(picked, spans, strict=True):
            part = " ".join(hit.text[a:b].split())
            if last is None:
                text = part
            elif j != last + 1:
                text += f" {GAP.strip()} {part}"
            else:  # consecutive sentences: a line break between them stays one
                text += ("\n" if "\n" in hit.text[end:a] else " ") + part
            last, end = j, b
        if picked[0] > 0:
            text = GAP.strip() + " " + text
        if picked[-1] < len(spans_of[h_i]) - 1:
            text = text + " " + GAP.strip()
        out.append(Excerpt(hit, text))
    return out


def _sentences(
    hit: Hit, passage: PassageVectors | None, q: np.ndarray
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The chunk's sentences and their similarity to the question: the stored vectors, or,
    for a chunk stored without them, the chunk's own similarity for each."""
    if passage is not None and passage.sentences is not None and len(passage.spans):
        return sentence_units(hit.text, passage), passage.sentences @ q
    spans = sentence_spans(hit.text, 1)
    base = float(hit.dense_score if hit.dense_score is not None else 0.0)
    return spans, np.full(len(spans), base, dtype=np.float32)


def sentence_units(text: str, passage: PassageVectors) -> list[tuple[int, int]]:
    """The stored sentence spans, each stretched over the short parts after it that have no
    vector of their own (a table cell's "1600" after "columns per table", a lone value line),
    so the values they hold are shown with the sentence they belong to."""
    spans = [tuple(s) for s in passage.spans]
    out = []
    for j, (a, b) in enumerate(spans):
        end = spans[j + 1][0] if j + 1 < len(spans) else len(text)
        if end - b <= ABSORB_CHARS and text[b:end].strip():
            b = b + len(text[b:end].rstrip())
        out.append((a, b))
    return out


def shown(excerpts: Sequence[Excerpt]) -> tuple[Hit, ...]:
    """The hits of the excerpts, in order (the sources the reader was shown)."""
    return tuple(e.hit for e in excerpts)
