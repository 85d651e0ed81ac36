"""What every command shares: options, consoles, settings and the error boundary."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console, ConsoleDimensions

from docqa.errors import DocqaError
from docqa.flows.modes import MODES

F = TypeVar("F", bound=Callable)

PIPE_WIDTH = 4096  # in a pipe or a file, a line is as long as what it holds


class _Console(Console):
    """Rich's console, except that output which is not a terminal is laid out as wide as it
    needs (whatever COLUMNS says): a path, a question or a table row is never cut or
    wrapped mid-word for a script or a pager."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(PIPE_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


out = _Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Data folder (default: $DOCQA_HOME, else the user data dir).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
StreamOpt = Annotated[
    bool,
    typer.Option(
        "--stream",
        help="Print JSON lines as the answer is written: attempt, token and verdict events, "
        "then the --json object with event final.",
    ),
]
WaitOpt = Annotated[
    float | None,
    typer.Option(
        "--wait",
        min=0,
        help="Seconds to wait while another ingest, docs rm or doctor --repair changes the "
        "store, then exit 1 saying it is busy (default: wait until it is done; 0: never wait).",
        show_default=False,
    ),
]


def writing(config, wait: float | None):
    """The store's write lock for a command that changes it, saying on stderr when it waits."""
    from docqa.lock import write_lock

    def waiting(holder: str) -> None:
        err.print(f"[dim]waiting for {holder} to finish changing the store...[/dim]")

    return write_lock(config.home, wait, waiting)


EmbedderOpt = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        help="Embedder of chunk vectors: minilm, nomic-embed-v1.5, or a sentence-transformers "
        "model folder (default: $DOCQA_EMBEDDER, else the one the store was built with, "
        "else minilm).",
        show_default=False,
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="Reader model: a name from `docqa models`, or the path of a GGUF file "
        "(default: $DOCQA_MODEL, else the default reader).",
        show_default=False,
    ),
]
LlmUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--llm-url",
        help="Generate with the model behind this OpenAI-compatible server (llama.cpp's "
        "llama-server, `python -m llama_cpp.server`, vLLM) instead of a local GGUF file; "
        "guided slots go out as the server's grammar or structured outputs "
        "\\[default: $DOCQA_LLM_URL, else the local model].",
        show_default=False,
    ),
]
KOpt = Annotated[
    int | None,
    typer.Option(
        "-k",
        help="Number of chunks to retrieve \\[default: 5].",
        min=1,
        max=100,
        show_default=False,
    ),
]

ContextOpt = Annotated[
    int | None,
    typer.Option(
        "--context-tokens",
        help="About how many tokens of the sources the model reads: the sentences that best "
        "match the question, with their neighbours; 0 shows the retrieved chunks whole "
        "\\[default: 200].",
        min=0,
        max=100_000,
        show_default=False,
    ),
]


# the answer modes (docqa.flows.modes), as the choices of --mode
Mode = StrEnum("Mode", {name: name for name in MODES})

ModeOpt = Annotated[
    Mode,
    typer.Option(
        "--mode",
        help="; ".join(f"{m.name}: {m.help}" for m in MODES.values()) + ".",
    ),
]
TemplateOpt = Annotated[
    str | None,
    typer.Option(
        "--template",
        help="Prompt template: a name in docqa's templates (qa) or a .j2 path.",
        show_default=False,
    ),
]
MaxAttemptsOpt = Annotated[
    int,
    typer.Option(
        "--max-attempts",
        help="Answers are checked (citations, grounding, relevance); a rejected one is tried "
        "again with a rewritten query, up to this many attempts.",
        min=1,
        max=10,
    ),
]
UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user",
        help="Who asks (see `docqa users`): only public documents and those of the user's "
        "groups are searched, and templates get the user's features "
        "\\[default: $DOCQA_USER, else anonymous: public documents only].",
        show_default=False,
    ),
]
GuardOpt = Annotated[
    bool,
    typer.Option(
        "--guard",
        help="Withhold the answer, with the reason, when the question is an outlier (far "
        "from the documents, judged against past questions) or toxic, or the answer is toxic "
        "(without it these are only flagged).",
    ),
]
SessionOpt = Annotated[
    str | None,
    typer.Option(
        "--session",
        help="Continue the named conversation: earlier turns are shown to the model and "
        "follow-ups are searched in their context.",
        show_default=False,
    ),
]


def settings(home: Path | None = None, **flags: object):
    from docqa.config import load_settings

    return load_settings(home=home, **flags)


def components(config):
    from docqa import components as comp

    return comp.build(config)


def question_error(exc: Exception) -> str:
    """The one-line message for a question that failed while others go on (stdin, chat);
    a bug is re-raised under DOCQA_DEBUG."""
    if isinstance(exc, DocqaError):
        return str(exc)
    if os.environ.get("DOCQA_DEBUG"):
        raise exc
    return f"internal error: {type(exc).__name__}: {exc}"


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def guarded(fn: F) -> F:
    """Turn DocqaError (and Ctrl-C) into one line on stderr and an exit code.

    DOCQA_DEBUG=1 lets the exception through, with its traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DocqaError as exc:
            if os.environ.get("DOCQA_DEBUG"):
                raise
            from rich.markup import escape

            raise fail(escape(str(exc)), exc.exit_code) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # the reader went away (`docqa search - | head`): exit quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(1) from None
        except Exception as exc:  # a bug: still one line, never a traceback, unless debugging
            if os.environ.get("DOCQA_DEBUG"):
                raise
            from rich.markup import escape

            message = f"internal error: {type(exc).__name__}: {exc} (DOCQA_DEBUG=1 shows more)"
            raise fail(escape(message), 1) from None

    return wrapper  # type: ignore[return-value]


def read_questions() -> list[str]:
    """Questions from stdin, one per line; blank lines are skipped."""
    return [line.strip() for line in sys.stdin if line.strip()]
