"""`docqa trace ID` and `docqa log list`: how answers came about, and which ones there were."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from docqa import service
from docqa.cli.common import (
    HomeOpt,
    JsonOpt,
    UserOpt,
    components,
    guarded,
    out,
    settings,
)

EveryoneOpt = Annotated[
    bool,
    typer.Option(
        "--all-users",
        help="Every user's interactions, with every chunk (the store owner's view).",
    ),
]


class Rated(StrEnum):
    good = "good"
    bad = "bad"
    none = "none"


log_app = typer.Typer(help="The recorded interactions.", no_args_is_help=True)


@guarded
def trace_command(
    interaction: Annotated[
        int, typer.Argument(help="The interaction id (`docqa log list`).", show_default=False)
    ],
    user: UserOpt = None,
    everyone: EveryoneOpt = False,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Show how one answer came about, stage by stage: user features, retrieval (queries,
    chunks, scores), each attempt's prompt, slots, tokens and timings, the validators'
    verdicts, and the final answer. Only the viewer's own interactions, and chunks they may
    read, are shown (see --user, --all-users)."""
    from docqa import contract, render
    from docqa.flows.trace import trace

    comps = components(settings(home, user=user))
    try:
        data = trace(comps.store, interaction, viewer=service.profile(comps), everyone=everyone)
    finally:
        comps.close()
    if json_out:
        print(contract.dumps(contract.trace_json(data)))
    else:
        render.print_trace(out, data)


@log_app.command("list")
@guarded
def log_list_command(
    user: UserOpt = None,
    everyone: EveryoneOpt = False,
    session: Annotated[
        str | None, typer.Option("--session", help="Only this session.", show_default=False)
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only this status: grounded, partially_grounded, unanswerable, withheld, "
            "error, running (being answered now) or interrupted (its process died).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="From this time on: 30m, 2h, 7d, 1w or an ISO date.", show_default=False
        ),
    ] = None,
    feedback: Annotated[
        Rated | None,
        typer.Option(
            "--feedback",
            help="Only answers rated good, rated bad (`docqa feedback`; the latest verdict "
            "counts), or none: not rated.",
            show_default=False,
            case_sensitive=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1)] = 50,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """The recorded interactions, newest first: the viewer's own (see --user, --all-users),
    each with its verdict (`docqa feedback`)."""
    from docqa import contract, render
    from docqa.timespec import parse_since

    after = parse_since(since) if since else None
    comps = components(settings(home, user=user))
    try:
        rows = comps.store.journal.interactions(
            user=service.profile(comps).name,
            everyone=everyone,
            session=session,
            status=status,
            since=after,
            feedback=None if feedback is None else feedback.value,
            limit=limit,
        )
    finally:
        comps.close()
    if json_out:
        print(contract.dumps({"interactions": rows}))
    else:
        render.print_log(out, rows)
