"""What the answer loop tells a listener while it runs: an attempt begins, the answer grows as
the model writes it, an attempt is judged. A terminal shows them as they come
(docqa.live); `ask --stream` writes them as JSON lines (docqa.contract.event_json)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class AttemptBegun:
    n: int  # 1, 2, ...
    strategy: str  # "initial" | "rewrite" | ...


@dataclass(frozen=True)
class AnswerText:
    """New answer text of attempt n: `text` follows what the attempt's earlier events held."""

    n: int
    text: str


@dataclass(frozen=True)
class AttemptJudged:
    n: int
    passed: bool
    answer: str  # the answer as judged: mended (a repeated sentence, a cut-off tail), or the
    # sources' sentences in extractive mode, so it may differ from the text streamed
    failed: tuple[tuple[str, str], ...]  # (validator, why) of each check it failed


Event = AttemptBegun | AnswerText | AttemptJudged
Listener = Callable[[Event], None]


class AnswerStream:
    """Turns one attempt's slot texts into AnswerText events: only what is new, and only
    while the text grows (the answer of a `reply` JSON slot, or an `answer` slot)."""

    def __init__(self, n: int, listener: Listener):
        self.n, self.listener, self.sent = n, listener, ""

    def __call__(self, slot: str, text: str) -> None:
        from docqa.flows.reply import answer_so_far

        answer = answer_so_far(slot, text)
        if answer and len(answer) > len(self.sent) and answer.startswith(self.sent):
            self.listener(AnswerText(self.n, answer[len(self.sent) :]))
            self.sent = answer
