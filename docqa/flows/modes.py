"""How an answer is sought: each mode knows its plan of attempts and what it answers with.

- generative: the model writes the answer (the settings' template, qa by default); a rejected
  answer is tried again with a rewritten query;
- extractive: the model writes its answer as in generative mode, and the answer given is the
  source sentence (or sentences) that supports it, copied word for word; a rejected answer is
  tried again with a rewritten query. The template that lets the model only choose among
  source sentences (`--template extractive`) remains, but it chose worse: on the PostgreSQL
  dev questions (bench/checks.py, 1.5B reader) its choice held the gold answer for 14 of 86,
  where the sentence supporting the written answer held it for 37.

The attempts' strategies:
1. `initial`: the question's own retrieval and the ask's template;
2. `rewrite`: the model restates the question as a search query (templates/rewrite.j2),
   retrieval fuses it with the question, and the template is told why the last answer was
   rejected.

There is no extractive fallback after rejected generative attempts. It was measured
(`python bench/checks.py --home DIR --work W --report-only`, PostgreSQL dev half, the 0.5B
reader): on the 48 questions whose first generative answer was rejected, the sentence it
chose passed the checks for 18 answerable questions, 3 of them rightly, and for 7 of the 13
the manual does not answer. It turned honest refusals into wrong answers called grounded.
"""

from __future__ import annotations

from dataclasses import dataclass

from docqa.errors import UsageError

DEFAULT_TEMPLATE = "qa"
EXTRACTIVE_TEMPLATE = "extractive"


@dataclass(frozen=True)
class Mode:
    name: str
    strategies: tuple[str, ...]  # the plan of attempts, cut to --max-attempts
    copies: bool  # the answer given is the source sentences that support the model's answer
    help: str

    def plan(self, max_attempts: int) -> list[str]:
        """The strategies to try, in order: at least one."""
        return list(self.strategies[: max(1, max_attempts)])

    def template_of(self, given: str | None, configured: str | None = None) -> str:
        """The template an ask uses: the one given (--template), else the configured one
        (docqa.toml), else qa; both modes start from the model's written answer."""
        if given is not None:
            return given
        return configured or DEFAULT_TEMPLATE

    @staticmethod
    def candidates_for(template: str) -> bool:
        """Whether an attempt with this template is given sentences to choose from."""
        return template == EXTRACTIVE_TEMPLATE


GENERATIVE = Mode(
    "generative",
    strategies=("initial", "rewrite"),
    copies=False,
    help="the model writes the answer",
)
EXTRACTIVE = Mode(
    "extractive",
    strategies=("initial", "rewrite"),
    copies=True,
    help="the answer is the source sentence that holds the model's answer, copied word for word",
)
MODES = {m.name: m for m in (GENERATIVE, EXTRACTIVE)}


def mode_named(name: str | Mode) -> Mode:
    if isinstance(name, Mode):
        return name
    try:
        return MODES[name]
    except KeyError:
        raise UsageError(f"no answer mode {name!r} (modes: {', '.join(MODES)})") from None
