"""Deciding when an answer is final: the prompt change after a rejected attempt, and the
final status (the plan of attempts is the mode's: docqa.flows.modes).

When no attempt passes, the best partially grounded answer is returned with its unsupported
sentences flagged, and otherwise "not found in the documents".
"""

from __future__ import annotations

from collections.abc import Sequence

from docqa.records import Attempt


def feedback(previous: Attempt | None) -> str:
    """What the next prompt is told about the last rejected answer ("" for none)."""
    if previous is None:
        return ""
    if not previous.answerable:
        return (
            "An earlier reply said the sources do not answer this. Read them again: if one "
            "does, copy its words and cite it."
        )
    return (
        f"An earlier answer was rejected ({previous.reason}). Copy the answer's words from "
        "the sources and cite the source that holds them."
    )


def decide(attempts: Sequence[Attempt]) -> tuple[str, Attempt | None]:
    """(status, the attempt whose answer is final). Status: "grounded" (an attempt passed
    every validator), "partially_grounded" (the best answer that cites valid sources, is
    about the question, and has some supported sentences), or "unanswerable" (None)."""
    for a in attempts:
        if a.passed:
            return "grounded", a
    partial = [
        a
        for a in attempts
        if a.answerable
        and a.grounding.status == "partial"
        and all(v.ok for v in a.verdicts if v.name != "grounded")
    ]
    if partial:
        return "partially_grounded", max(partial, key=lambda a: (a.grounding.score, -a.n))
    return "unanswerable", None
