"""How an answer is sought: each mode knows its template and its plan of attempts.

- generative: the model writes the answer (the settings' template, qa by default); a rejected
  answer is tried again with a rewritten query, then extractively;
- extractive: the model may only choose a sentence copied from the sources (the extractive
  template, every attempt); a rejected answer is tried again with a rewritten query.

The attempts' strategies:
1. `initial`: the question's own retrieval and the mode's template;
2. `rewrite`: the model restates the question as a search query (templates/rewrite.j2),
   retrieval fuses it with the question, and the template is told why the last answer was
   rejected;
3. `extractive`: the extractive template, whatever the mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from docqa.errors import UsageError

DEFAULT_TEMPLATE = "qa"
EXTRACTIVE_TEMPLATE = "extractive"


@dataclass(frozen=True)
class Mode:
    name: str
    template: str | None  # the mode's own template; None: the settings' template
    strategies: tuple[str, ...]  # the plan of attempts, cut to --max-attempts
    extracts: bool  # every prompt is given sentences to choose from (extractive candidates)
    help: str

    def plan(self, max_attempts: int) -> list[str]:
        """The strategies to try, in order: at least one."""
        return list(self.strategies[: max(1, max_attempts)])

    def template_of(self, given: str | None, configured: str | None = None) -> str:
        """The template an ask uses: the one given (--template), else the mode's own, else
        the configured one (docqa.toml), else qa."""
        if given is not None:
            return given
        return self.template or configured or DEFAULT_TEMPLATE

    def template_for(self, strategy: str, main: str) -> str:
        """The template of one attempt: the ask's, except for an extractive fallback."""
        return EXTRACTIVE_TEMPLATE if strategy == "extractive" else main

    def candidates_for(self, template: str) -> bool:
        """Whether an attempt with this template is given extractive candidates."""
        return self.extracts or template == EXTRACTIVE_TEMPLATE


GENERATIVE = Mode(
    "generative",
    template=None,
    strategies=("initial", "rewrite", "extractive"),
    extracts=False,
    help="the model writes the answer",
)
EXTRACTIVE = Mode(
    "extractive",
    template=EXTRACTIVE_TEMPLATE,
    strategies=("initial", "rewrite"),  # it extracts in every attempt: no extractive fallback
    extracts=True,
    help="it can only choose a sentence copied from the sources",
)
MODES = {m.name: m for m in (GENERATIVE, EXTRACTIVE)}


def mode_named(name: str | Mode) -> Mode:
    if isinstance(name, Mode):
        return name
    try:
        return MODES[name]
    except KeyError:
        raise UsageError(f"no answer mode {name!r} (modes: {', '.join(MODES)})") from None
