"""The validators every answer passes through before it is final (step 6 of the data flow).

- citations: an answer cites at least one source, and only sources that were shown; its
  citations are the sources that support its sentences (a right answer the model cited
  wrongly, or not at all, is cited as its support says);
- grounded: every sentence is supported by the sources shown (docqa.flows.groundedness);
- answerable: the model claims the sources answer the question, and the answer is about the
  question: it (or the source sentence supporting it) is closer to the question than the
  best of as many unrelated sentences as the model chose from, by the same calibration as
  groundedness;
- answers: the answer holds what the question asks for, and is not a restatement, a loop, a
  fragment or a refusal in disguise (docqa.flows.responsive).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from docqa.flows.extractive import NOT_FOUND
from docqa.flows.groundedness import (
    ALPHA,
    MIN_POOL,
    NullPool,
    check,
    null_maxima,
    split_sentences,
)
from docqa.flows.reply import MAX_ANSWER_CHARS
from docqa.flows.responsive import problems
from docqa.records import Grounding, Hit, Verdict


def validate(
    *,
    question: str = "",
    question_vector: np.ndarray,
    answer: str,
    answerable: bool,
    citations: Sequence[int],
    hits: Sequence[Hit],
    embedder,
    pool: NullPool,
) -> tuple[tuple[Verdict, ...], Grounding, tuple[int, ...]]:
    """The verdicts on one answer, its grounding, and its citations: the sources that support
    its sentences (the model's own numbers when none does)."""
    shown = len(hits)
    bad = [n for n in citations if not 1 <= n <= shown]
    sources = [(n, h.path, h.text) for n, h in enumerate(hits, start=1)]
    # not the question: a name only the question holds ("Supabase's free tier") is how an
    # answer to what the documents do not cover gives itself away (bench/checks.py: with the
    # question here, 13 of 16 unanswerable dev questions passed, against 4)
    shown_too = "\n".join(f"{Path(h.path).name} {h.heading}" for h in hits)
    grounding = (
        check(answer, sources, embedder, pool, given=shown_too) if answerable else Grounding()
    )
    supporting = tuple(
        dict.fromkeys(s.source for s in grounding.sentences if s.supported and s.source is not None)
    )
    given = tuple(n for n in citations if 1 <= n <= shown)
    fixed = supporting or given
    if not answerable:
        cited = Verdict("citations", True, "no answer to cite for")
    elif bad and not supporting:
        cited = Verdict("citations", False, f"cites sources that were not shown: {bad}")
    elif not fixed:
        cited = Verdict("citations", False, "cites no source")
    else:
        note = "" if set(fixed) == set(citations) else f" (the model cited {list(citations)})"
        cited = Verdict("citations", True, f"cites {', '.join(f'[{n}]' for n in fixed)}{note}")

    if not answerable:
        grounded = Verdict("grounded", True, "nothing claimed")
    elif grounding.status == "grounded":
        grounded = Verdict("grounded", True, f"{grounding.supported}/{len(grounding.sentences)}")
    elif not grounding.sentences:
        grounded = Verdict("grounded", False, "the answer is empty")
    else:
        worst = grounding.unsupported()[0]
        grounded = Verdict(
            "grounded",
            False,
            f"{len(grounding.unsupported())}/{len(grounding.sentences)} sentences unsupported"
            f" ({worst.reason()}): {worst.text[:80]!r}",
        )

    if not answerable or answer.strip() == NOT_FOUND:
        relevant = Verdict("answerable", False, "the model found no answer in the sources")
        answers = Verdict("answers", True, "no answer given")
    else:
        relevant = _relevance(question_vector, answer, grounding, hits, embedder, pool)
        why = problems(question, answer, MAX_ANSWER_CHARS) if question else []
        answers = Verdict("answers", not why, "; ".join(why) or "answers the question")
    return (cited, grounded, relevant, answers), grounding, fixed if answerable else ()


def _relevance(
    question_vector: np.ndarray,
    answer: str,
    grounding: Grounding,
    hits: Sequence[Hit],
    embedder,
    pool: NullPool,
) -> Verdict:
    """Is the answer about the question? The answer, or the source sentences that support
    it, must be closer to the question than the best of as many unrelated sentences as the
    sources shown hold (the model chose among those): a topical sentence picked from
    sources that do not answer the question is no closer than chance."""
    cited = {s.source for s in grounding.sentences if s.source is not None}
    unrelated = pool.excluding({hits[n - 1].path for n in cited if 1 <= n <= len(hits)})
    if len(unrelated) < MIN_POOL:
        return Verdict("answerable", True, "the model says so (too few sentences to calibrate)")
    q = np.asarray(question_vector, dtype=np.float32)
    texts = [answer]
    for s in grounding.sentences:
        if s.supported and s.source is not None and 1 <= s.source <= len(hits):
            # the supporting sentence with its neighbours: a name alone in its sentence
            # ("... came from Champollion.") gets its subject from the sentences around it
            around = split_sentences(hits[s.source - 1].text)
            i = around.index(s.nearest) if s.nearest in around else 0
            texts += [s.nearest, " ".join(around[max(0, i - 1) : i + 2])]
    score = float(np.max(np.asarray(embedder.embed(texts), dtype=np.float32) @ q))
    shown = sum(len(split_sentences(h.text)) for h in hits)
    null = null_maxima(unrelated @ q, max(1, shown), answer)
    p = float((1 + np.sum(null >= score)) / (len(null) + 1))
    verdict = f"similarity {score:.2f} to the question, p = {p:.3f}"
    if p <= ALPHA:
        return Verdict("answerable", True, f"on the question ({verdict})")
    return Verdict("answerable", False, f"not about the question ({verdict})")
