"""The validators every answer passes through before it is final (step 6 of the data flow).

- citations: an answer cites at least one source, and only sources that were shown;
- grounded: every sentence is supported by the cited sources (docqa.flows.groundedness);
- answerable: the model claims the sources answer the question, and the answer is about the
  question: it (or the source sentence supporting it) is closer to the question than the
  best of as many unrelated sentences as the model chose from, by the same calibration as
  groundedness.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from docqa.records import Grounding, Hit, Verdict


def validate(
    *,
    question_vector: np.ndarray,
    answer: str,
    answerable: bool,
    citations: Sequence[int],
    hits: Sequence[Hit],
    embedder,
    pool: NullPool,
) -> tuple[tuple[Verdict, ...], Grounding]:
    """The verdicts on one answer, and its grounding (against the cited sources)."""
    shown = len(hits)
    bad = [n for n in citations if not 1 <= n <= shown]
    if not answerable:
        cited = Verdict("citations", True, "no answer to cite for")
    elif bad:
        cited = Verdict("citations", False, f"cites sources that were not shown: {bad}")
    elif not citations:
        cited = Verdict("citations", False, "cites no source")
    else:
        cited = Verdict("citations", True, f"cites {', '.join(f'[{n}]' for n in citations)}")

    sources = [(n, hits[n - 1].path, hits[n - 1].text) for n in citations if 1 <= n <= shown]
    grounding = check(answer, sources, embedder, pool) if answerable else Grounding()
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
    else:
        relevant = _relevance(question_vector, answer, grounding, hits, embedder, pool)
    return (cited, grounded, relevant), grounding


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
