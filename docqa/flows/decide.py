"""Deciding when an answer is final: the plan of attempts, the prompt change after a failed
one, and the final status.

The plan, cut to --max-attempts:
1. `initial`: the question's own retrieval and the chosen template;
2. `rewrite`: the model restates the question as a search query (templates/rewrite.j2),
   retrieval fuses it with the question, and the template is told why the last answer was
   rejected;
3. `extractive`: the model may only choose a sentence copied from the sources.
When no attempt passes, the best partially grounded answer is returned with its unsupported
sentences flagged, and otherwise "not found in the documents".
"""

from __future__ import annotations

from collections.abc import Sequence

from docqa.records import Attempt

STRATEGIES = ("initial", "rewrite", "extractive")


def plan(mode: str, max_attempts: int) -> list[str]:
    """The strategies to try, in order. Extractive mode extracts in every attempt, so it has
    no separate extractive fallback."""
    steps = ["initial", "rewrite"] if mode == "extractive" else list(STRATEGIES)
    return steps[: max(1, max_attempts)]


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
