"""`docqa run`: execute a template program with the local model."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from docqa.cli.common import HomeOpt, JsonOpt, ModelOpt, components, guarded, out, settings
from docqa.errors import UsageError


def parse_vars(items: list[str]) -> dict[str, object]:
    """KEY=VALUE gives a string; KEY:=JSON gives a typed value (number, list, object, ...)."""
    variables: dict[str, object] = {}
    for item in items:
        typed = ":=" in item and item.index(":=") < item.find("=") + 1
        key, sep, value = item.partition(":=" if typed else "=")
        if not sep or not key.isidentifier():
            raise UsageError(f"--var wants KEY=VALUE or KEY:=JSON, not {item!r}")
        if typed:
            try:
                variables[key] = json.loads(value)
            except ValueError as exc:
                raise UsageError(f"--var {key}: the value is not JSON: {exc}") from None
        else:
            variables[key] = value
    return variables


@guarded
def run_command(
    template: Annotated[
        str,
        typer.Argument(
            help="A template name in docqa's templates, or a path to a jinja2 file.",
            show_default=False,
        ),
    ],
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            help="A template variable: KEY=VALUE (a string) or KEY:=JSON (typed); repeatable.",
            show_default=False,
        ),
    ] = None,
    model: ModelOpt = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Run a template program: the model fills its gen() and select() slots."""
    from docqa import render
    from docqa.prompts import load_program

    variables = parse_vars(var or [])
    program = load_program(template)
    comps = components(settings(home, model=model))
    llm = comps.llm
    llm.load()
    result = program.run(llm, variables)
    if json_out:
        print(render.dumps(render.program_json(result, llm.name)))
    else:
        render.print_program(out, result, llm.name)
