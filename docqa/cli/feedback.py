"""`docqa feedback ID good|bad`: a person's verdict on an answer."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from docqa import service
from docqa.cli.common import HomeOpt, JsonOpt, UserOpt, components, guarded, out, settings


class Verdict(StrEnum):
    good = "good"
    bad = "bad"


@guarded
def feedback_command(
    interaction: Annotated[
        int,
        typer.Argument(
            help="The answer's interaction id (`docqa log list`, `ask --json`'s id).",
            show_default=False,
        ),
    ],
    verdict: Annotated[
        Verdict, typer.Argument(help="good or bad.", show_default=False, case_sensitive=False)
    ],
    note: Annotated[
        str | None,
        typer.Option(
            "--note", help="Why, in a few words (kept with the verdict).", show_default=False
        ),
    ] = None,
    user: UserOpt = None,
    everyone: Annotated[
        bool,
        typer.Option(
            "--all-users",
            help="Rate any user's answer, not only your own (the store owner's view).",
        ),
    ] = False,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Rate an answer good or bad, with an optional note. A user rates their own answers
    (see --user, --all-users); rating the same answer again replaces your earlier verdict.
    `docqa trace` shows the verdicts, `docqa log list --feedback bad` finds the answers, and
    `docqa monitor report` follows the share rated good."""
    from docqa import contract, render
    from docqa.flows.feedback import give_feedback

    comps = components(settings(home, user=user))
    try:
        rating = give_feedback(
            comps.store,
            interaction,
            verdict.value,
            note,
            user=service.profile(comps),
            everyone=everyone,
        )
    finally:
        comps.close()
    if json_out:
        print(contract.dumps(contract.rating_json(rating)))
    else:
        render.print_rating(out, rating)
