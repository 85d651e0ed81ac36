"""`docqa search` and `docqa ask`: one question from the command line, or many from stdin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

import typer
from rich.markup import escape

from docqa import service
from docqa.cli.common import (
    ContextOpt,
    EmbedderOpt,
    GuardOpt,
    HomeOpt,
    JsonOpt,
    KOpt,
    LlmUrlOpt,
    MaxAttemptsOpt,
    Mode,
    ModelOpt,
    ModeOpt,
    SessionOpt,
    StreamOpt,
    TemplateOpt,
    UserOpt,
    components,
    err,
    guarded,
    out,
    question_error,
    read_questions,
    settings,
)
from docqa.errors import UsageError

QuestionArg = Annotated[
    str,
    typer.Argument(
        help="The question, or - to read one question per line from stdin "
        "(one JSON object per line out).",
        show_default=False,
    ),
]


def _each_line(
    questions: list[str], answer: Callable[[str], dict], error_event: bool = False
) -> None:
    """Answer stdin questions one per line; a failed one prints an error object (with
    "event": "error" when streaming) and the command exits 1 at the end, after all the
    others were answered."""
    from docqa import contract

    failed = 0
    for q in questions:
        try:
            print(contract.dumps(answer(q)), flush=True)
        except Exception as exc:  # one failed question must not stop the others
            message = question_error(exc)
            failed += 1
            shown = {"question": q, "error": message}
            print(contract.dumps({"event": "error", **shown} if error_event else shown), flush=True)
            err.print(
                f"[red]error:[/red] {escape(repr(q[:60]))}: {escape(message)}",
                markup=True,
                highlight=False,
            )
    if failed:
        raise typer.Exit(1)


@guarded
def search_command(
    question: QuestionArg,
    k: KOpt = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
    embedder: EmbedderOpt = None,
) -> None:
    """Find the chunks that best match a question (dense + lexical, fused)."""
    from docqa import contract, render

    comps = components(settings(home, embedder=embedder, k=k, user=user))

    def run(q: str):
        return service.search(comps, q, comps.settings.k, who)

    try:
        who = service.profile(comps)
        if question == "-":
            _each_line(read_questions(), lambda q: contract.search_json(run(q)))
            return
        result = run(question)
    finally:
        comps.close()
    if json_out:
        print(contract.dumps(contract.search_json(result)))
    else:
        render.print_search(out, result)


@guarded
def ask_command(
    question: QuestionArg,
    k: KOpt = None,
    context_tokens: ContextOpt = None,
    template: TemplateOpt = None,
    model: ModelOpt = None,
    llm_url: LlmUrlOpt = None,
    mode: ModeOpt = Mode.generative,
    max_attempts: MaxAttemptsOpt = 3,
    guard: GuardOpt = False,
    session: SessionOpt = None,
    user: UserOpt = None,
    beams: Annotated[
        int,
        typer.Option(
            "--beams",
            help="Beam search across the template's slots with this many beams (1: greedy).",
            min=1,
            max=16,
        ),
    ] = 1,
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Do not record this interaction.")
    ] = False,
    json_out: JsonOpt = False,
    stream: StreamOpt = False,
    home: HomeOpt = None,
    embedder: EmbedderOpt = None,
) -> None:
    """Answer a question from your documents, with citations, using the local model. At a
    terminal the answer appears as the model writes it."""
    from docqa import contract, render
    from docqa.flows.ask import AskOptions
    from docqa.flows.modes import mode_named
    from docqa.flows.retrieve import clean_question, clean_session
    from docqa.prompts import resolve_template

    config = settings(
        home,
        embedder=embedder,
        model=model,
        llm_url=llm_url,
        k=k,
        context_tokens=context_tokens,
        template=template,
        user=user,
    )
    config = replace(config, template=mode_named(mode).template_of(template, config.template))
    resolve_template(config.template)  # a bad template fails before any model loads
    if session is not None and no_log:
        raise UsageError("--session keeps its turns in the interaction log: drop --no-log")
    questions = read_questions() if question == "-" else [clean_question(question)]
    comps = components(config)
    try:
        options = AskOptions(
            k=config.k,
            template=config.template,
            log=not no_log,
            beams=beams,
            mode=mode_named(mode),
            max_attempts=max_attempts,
            guard=guard,
            session=clean_session(session),
            user=service.profile(comps),
        )
        if stream:
            _each_line(questions, lambda q: _streamed(comps, q, options), error_event=True)
            return
        if question == "-":
            _each_line(questions, lambda q: contract.answer_json(service.ask(comps, q, options)))
            return
        if json_out or not out.is_terminal:
            result = service.ask(comps, questions[0], options)
        else:
            from docqa.live import LiveAnswer

            with LiveAnswer(out) as live:
                result = service.ask(comps, questions[0], options, listener=live)
    finally:
        comps.close()
    if json_out:
        print(contract.dumps(contract.answer_json(result)))
    else:
        render.print_answer(out, result)


def _streamed(comps, question: str, options) -> dict:
    """Answer one question, printing its events as JSON lines as they happen; returns the
    final line's object."""
    from docqa import contract

    def emit(event) -> None:
        print(contract.dumps(contract.event_json(event)), flush=True)

    return contract.final_json(service.ask(comps, question, options, listener=emit))
