"""`docqa monitor report`: drift, outliers, toxicity, sentiment, groundedness, conversations
and operations, current window against a reference."""

from __future__ import annotations

from pathlib import Path
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
from docqa.cli.trace import EveryoneOpt

app = typer.Typer(help="Monitoring of what `ask` recorded.", no_args_is_help=True)


@app.command("report")
@guarded
def report_command(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="The current window starts here (30m, 2h, 7d, 1w or an ISO date); the "
            "reference is everything before.",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        int | None,
        typer.Option(
            "--window",
            help="The current window is the last N asks \\[default: 50].",
            min=1,
            show_default=False,
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="Pin the reference's start (30m, 2h, 7d, 1w or an ISO date); it ends where "
            "the current window starts.",
            show_default=False,
        ),
    ] = None,
    user: UserOpt = None,
    everyone: EveryoneOpt = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write the report as one self-contained HTML file with plots.",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Compare the current window of asks with a reference: drift of questions (MMD
    permutation test, classifier AUC, the topics that moved), outlier questions and their
    share, retrieval scores and documents, toxicity, sentiment, groundedness, people's
    feedback (`docqa feedback`), conversations, latency, tokens, cache hits, errors and
    attempts. Every test gives both ns, an effect with its 95%
    interval, p and a Benjamini-Hochberg q; an alert needs q < 0.05 and a meaningful effect."""
    from docqa import contract, render
    from docqa.errors import UsageError
    from docqa.monitor.report import monitor_report
    from docqa.timespec import parse_since

    if since is not None and window is not None:
        raise UsageError("give --since or --window, not both")
    comps = components(settings(home, user=user))
    try:
        data = monitor_report(
            comps.store,
            viewer=service.profile(comps),
            everyone=everyone,
            window=window,
            since=parse_since(since) if since else None,
            reference_since=parse_since(reference) if reference else None,
            plot_data=html is not None,
        )
    finally:
        comps.close()
    if html is not None:
        from docqa.monitor.html import write_html

        write_html(data, html)
        data.pop("data", None)
    if json_out:
        print(contract.dumps(data))
    else:
        render.print_report(out, data)
        if html is not None:
            out.print(f"\nHTML report: {html}")
