"""The validators every answer passes through before it is final (step 6 of the data flow).

- citations: an answer cites at least one source, and only sources that were shown;
- grounded: every sentence is supported by the cited sources (docqa.monitor.groundedness);
- answerable: the model claims the sources answer the question, and the answer is about the
  question: it is closer to the question than the unrelated sentences of the corpus are, by
  the same calibration as groundedness.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from docqa.monitor.groundedness import ALPHA, MIN_POOL, NullPool, check
from docqa.records import Grounding, Hit, Verdict

NOT_FOUND = "The documents do not say."


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
        relevant = _relevance(question_vector, answer, embedder, pool)
    return (cited, grounded, relevant), grounding


def _relevance(question_vector: np.ndarray, answer: str, embedder, pool: NullPool) -> Verdict:
    """Is the answer about the question? Its similarity to the question against the
    similarities of the corpus's unrelated sentences to it."""
    if len(pool.vectors) < MIN_POOL:
        return Verdict("answerable", True, "the model says so (too few sentences to calibrate)")
    q = np.asarray(question_vector, dtype=np.float32)
    a = np.asarray(embedder.embed([answer])[0], dtype=np.float32)
    score = float(a @ q)
    null = pool.vectors @ q
    p = float((1 + np.sum(null >= score)) / (len(null) + 1))
    if p <= ALPHA:
        return Verdict("answerable", True, f"on the question (similarity {score:.2f}, p = {p:.3f})")
    return Verdict(
        "answerable", False, f"not about the question (similarity {score:.2f}, p = {p:.3f})"
    )
