"""`docqa chat`: a conversation with your documents in the terminal (or over a pipe)."""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Iterator

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
    UserOpt,
    components,
    err,
    guarded,
    out,
    question_error,
    settings,
)

HELP = (
    "Ask anything about your documents; follow-up questions may refer to earlier turns.\n"
    "  /sources   every source the last answer was drawn from\n"
    "  /history   the turns of this session so far\n"
    "  /good, /bad [NOTE]   rate the last answer (see `docqa feedback`)\n"
    "  /quit      end the chat (also /exit, Ctrl-D)"
)


def _lines(interactive: bool) -> Iterator[str]:
    if interactive:
        import readline  # noqa: F401  (line editing and ↑ history for input())

        while True:
            try:
                yield input("\001\033[1m\002you>\001\033[0m\002 ")
            except EOFError:
                out.print()
                return
    else:
        yield from sys.stdin


@guarded
def chat_command(
    session: SessionOpt = None,
    k: KOpt = None,
    context_tokens: ContextOpt = None,
    mode: ModeOpt = Mode.generative,
    max_attempts: MaxAttemptsOpt = 3,
    guard: GuardOpt = False,
    user: UserOpt = None,
    model: ModelOpt = None,
    llm_url: LlmUrlOpt = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
    embedder: EmbedderOpt = None,
) -> None:
    """Talk with your documents: follow-up questions, citations after each answer, /sources,
    /history, /quit. Turns are kept in the session (continue it later with --session NAME,
    here or in `docqa ask`); the model reuses its cached state, so each turn only reads what
    is new. Reads one question per line from stdin when it is not a terminal."""
    from docqa import contract, render
    from docqa.flows.ask import AskOptions, open_session
    from docqa.flows.modes import mode_named
    from docqa.flows.retrieve import clean_session

    config = settings(
        home,
        embedder=embedder,
        model=model,
        llm_url=llm_url,
        k=k,
        context_tokens=context_tokens,
        user=user,
    )
    template = mode_named(mode).template_of(None, config.template)
    # a new chat's name is unique: two chats started in the same second must not share turns
    name = clean_session(session) or time.strftime("chat-%Y%m%d-%H%M%S-") + secrets.token_hex(3)
    interactive = sys.stdin.isatty() and not json_out
    comps = components(config)
    last = None
    failed = 0
    try:
        options = AskOptions(
            k=config.k,
            template=template,
            mode=mode_named(mode),
            max_attempts=max_attempts,
            guard=guard,
            session=name,
            user=service.profile(comps),
        )
        open_session(comps.store, name, options.user)
        if interactive:
            out.print(f"[bold]docqa chat[/bold] · session [cyan]{escape(name)}[/cyan] · /help")
        for line in _lines(interactive):
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                command = text.split()[0].lower()
                if command in ("/quit", "/exit"):
                    break
                if command == "/sources":
                    _sources(last, json_out)
                elif command == "/history":
                    _history(comps.store, name, options.user, json_out)
                elif command in ("/good", "/bad"):
                    _rate(
                        comps.store, last, command[1:], text[len(command) :], options.user, json_out
                    )
                elif command == "/help":
                    out.print(HELP, highlight=False, markup=False)
                else:
                    err.print(f"unknown command {escape(command)}: /help lists them")
                continue
            try:
                if interactive and out.is_terminal:
                    from docqa.live import LiveAnswer

                    with LiveAnswer(out) as live:  # the answer as the model writes it
                        last = service.ask(comps, text, options, listener=live)
                else:
                    last = service.ask(comps, text, options)
            except Exception as exc:  # one failed turn must not end the conversation
                message = question_error(exc)
                failed += 1
                if json_out:
                    print(contract.dumps({"question": text, "error": message}), flush=True)
                err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
                continue
            if json_out:
                print(contract.dumps(contract.answer_json(last)), flush=True)
            else:
                render.print_answer(out, last)
                out.print()
    except KeyboardInterrupt:
        out.print()
    finally:
        comps.close()
    if failed and not interactive:
        raise typer.Exit(1)


def _sources(last, json_out: bool) -> None:
    from docqa import contract, render

    if last is None:
        if json_out:
            print(contract.dumps({"sources": []}), flush=True)
        err.print("no answer yet")
        return
    cited = {c.n for c in last.citations}
    numbered = list(enumerate(last.hits, start=1))
    if json_out:
        sources = [{"n": n, "cited": n in cited, **contract.hit_json(h)} for n, h in numbered]
        print(contract.dumps({"sources": sources}), flush=True)
        return
    render.print_sources(out, numbered, chars=600)


def _history(store, name: str, user, json_out: bool) -> None:
    from docqa import contract
    from docqa.flows.ask import history

    turns = history(store, name, user, 1000)
    if json_out:
        print(contract.dumps({"session": name, "turns": turns}), flush=True)
        return
    for t in turns:
        out.print(f"[bold]{t['turn']}.[/bold] {escape(t['question'])}", highlight=False)
        out.print(f"   [dim]{escape(t['answer'] or '')}[/dim]", highlight=False)


def _rate(store, last, verdict: str, note: str, user, json_out: bool) -> None:
    """/good and /bad: the asker's verdict on the last answer, as `docqa feedback` records it."""
    from docqa import contract
    from docqa.errors import DocqaError
    from docqa.flows.feedback import give_feedback

    if last is None or last.id is None:
        err.print("no answer to rate yet")
        return
    try:
        rating = give_feedback(store, last.id, verdict, note, user=user)
    except DocqaError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return
    if json_out:
        print(contract.dumps({"feedback": contract.rating_json(rating)}), flush=True)
        return
    again = " (replacing your earlier verdict)" if rating.replaced is not None else ""
    out.print(f"[dim]rated answer {last.id} {verdict}{escape(again)}[/dim]", highlight=False)
