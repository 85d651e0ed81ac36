"""Inline guards, checked while a question is answered: an outlier question (far from the
documents, judged against past questions), a toxic question, a toxic answer. Each is flagged
in the answer and its record; with `--guard` a flagged answer is withheld, with the reason.
"""

from __future__ import annotations

import numpy as np

from docqa.monitor.text import toxic_words
from docqa.records import Hit

MIN_REFERENCE = 30  # past questions needed before a question can be called an outlier
OUTLIER_QUANTILE = 0.99
NEIGHBOURS = 5


def outlier_score(hits: tuple[Hit, ...]) -> float | None:
    """How far the question is from the documents: 1 - the mean cosine similarity of its
    nearest chunks (up to NEIGHBOURS); None when the vector index found none."""
    dense = sorted((h.dense_score for h in hits if h.dense_score is not None), reverse=True)
    if not dense:
        return None
    return round(1.0 - float(np.mean(dense[:NEIGHBOURS])), 6)


def question_flags(question: str, score: float | None, reference: list[float]) -> dict:
    """Flags on a question. `reference`: the outlier scores of past questions, whose
    OUTLIER_QUANTILE is the threshold (too few of them: no verdict, and it says so)."""
    outlier: dict = {"score": score, "reference_n": len(reference), "flagged": False}
    if score is None:
        outlier["note"] = "no vector neighbours"
    elif len(reference) < MIN_REFERENCE:
        outlier["note"] = (
            f"too little data: {len(reference)} past questions, {MIN_REFERENCE} needed"
        )
    else:
        threshold = float(np.quantile(reference, OUTLIER_QUANTILE))
        outlier.update(threshold=round(threshold, 6), flagged=score > threshold)
    words = toxic_words(question)
    return {"outlier": outlier, "toxic_question": {"flagged": bool(words), "words": words}}


def answer_flags(answer: str) -> dict:
    words = toxic_words(answer)
    return {"toxic_answer": {"flagged": bool(words), "words": words}}


def reasons(flags: dict) -> list[str]:
    """Why an answer would be withheld, in words (empty: nothing flagged)."""
    out = []
    outlier = flags.get("outlier") or {}
    if outlier.get("flagged"):
        out.append(
            f"the question is far from the documents (outlier score {outlier['score']:.3f} > "
            f"{outlier['threshold']:.3f}, the {OUTLIER_QUANTILE:.0%} of "
            f"{outlier['reference_n']} past questions)"
        )
    if (flags.get("toxic_question") or {}).get("flagged"):
        out.append("the question is toxic")
    if (flags.get("toxic_answer") or {}).get("flagged"):
        out.append("the answer is toxic")
    return out
