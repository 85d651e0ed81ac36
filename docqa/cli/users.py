"""`docqa users`: the feature store of the people who ask."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from docqa.cli.common import HomeOpt, JsonOpt, components, guarded, out, settings
from docqa.errors import UsageError

app = typer.Typer(
    help="User profiles: features (role, expertise, language, ...) and the groups whose "
    "documents each user may read.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="The user's name.", show_default=False)]


@app.command("set")
@guarded
def set_command(
    name: NameArg,
    features: Annotated[
        list[str],
        typer.Argument(
            help="KEY=VALUE (a string), KEY:=JSON (a number, string or list of strings), "
            "KEY= (remove it); groups=a,b sets the user's groups.",
            show_default=False,
        ),
    ],
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Create a user, or change their features (others are kept)."""
    from docqa.flows.users import set_features

    comps = components(settings(home))
    try:
        profile = set_features(comps.store, name, features)
    finally:
        comps.close()
    _print(profile, json_out)


@app.command("show")
@guarded
def show_command(name: NameArg, json_out: JsonOpt = False, home: HomeOpt = None) -> None:
    """A user's features and groups."""
    from docqa.flows.users import profile

    comps = components(settings(home))
    try:
        found = profile(comps.store, name)
    finally:
        comps.close()
    _print(found, json_out)


@app.command("list")
@guarded
def list_command(json_out: JsonOpt = False, home: HomeOpt = None) -> None:
    """Every user, with their groups and features."""
    from docqa import contract, render

    comps = components(settings(home))
    try:
        users = comps.store.people.users()
    finally:
        comps.close()
    if json_out:
        print(contract.dumps({"users": [contract.profile_json(u) for u in users]}))
        return
    if not users:
        out.print("no users yet: `docqa users set NAME KEY=VALUE...` adds one")
    for u in users:
        render.print_profile(out, u)


@app.command("rm")
@guarded
def rm_command(name: NameArg, json_out: JsonOpt = False, home: HomeOpt = None) -> None:
    """Remove a user (their recorded interactions stay)."""
    from docqa import contract

    comps = components(settings(home))
    try:
        removed = comps.store.people.remove_user(name)
    finally:
        comps.close()
    if not removed:
        raise UsageError(f"unknown user {name!r}")
    if json_out:
        print(contract.dumps({"removed": name}))
    else:
        out.print(f"removed user {escape(name)}")


def _print(profile, json_out: bool) -> None:
    from docqa import contract, render

    if json_out:
        print(contract.dumps(contract.profile_json(profile)))
    else:
        render.print_profile(out, profile)
