"""The answer at a terminal as the model writes it: a spinner while docqa searches and reads
the sources, then the answer text as it grows. A rejected attempt stays on screen, struck
through with why, and the next one streams below it; the answer that is kept is printed once,
whole, by docqa.render.print_answer when the loop ends (the live text is cleared first)."""

from __future__ import annotations

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.text import Text

from docqa.flows.events import AnswerText, AttemptBegun, AttemptJudged, Event

SEARCHING = "searching the documents…"
READING = "reading the sources…"
AGAIN = "checking the sources again…"


class LiveAnswer:
    """A listener for the answer loop's events that draws them on a terminal console.

    Use as a context manager around one question: `with LiveAnswer(console) as live:
    service.ask(..., listener=live)`; print the final answer after the block."""

    def __init__(self, console: Console):
        self.console = console
        self.text = ""  # the current attempt's answer so far
        self.status = SEARCHING
        self.live = Live(self._view(), console=console, transient=True, refresh_per_second=12)

    def __enter__(self) -> LiveAnswer:
        self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        self.live.stop()  # transient: the live text goes; the caller prints the answer

    def __call__(self, event: Event) -> None:
        if isinstance(event, AttemptBegun):
            self.text = ""
            self.status = READING if event.n == 1 else AGAIN
        elif isinstance(event, AnswerText):
            self.text += event.text
        elif isinstance(event, AttemptJudged) and not event.passed:
            shown = self.text or event.answer
            self.text, self.status = "", AGAIN
            self.live.update(self._view(), refresh=True)
            self._rejected(event, shown)
        self.live.update(self._view(), refresh=True)

    def _rejected(self, event: AttemptJudged, shown: str) -> None:
        why = "; ".join(reason for _, reason in event.failed) or "rejected"
        self.console.print(Text(shown, style="dim strike"))
        self.console.print(
            f"[yellow]✗ attempt {event.n} rejected:[/yellow] [dim]{escape(why)}[/dim]",
            highlight=False,
        )

    def _view(self):
        if not self.text:
            return Spinner("dots", text=Text(self.status, style="dim"))
        return Group(Text(self.text, style="bold"), Spinner("dots"))
