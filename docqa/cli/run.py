"""`docqa run`: execute a template program with the local model."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from docqa import service
from docqa.assignments import split_assignment
from docqa.cli.common import (
    HomeOpt,
    JsonOpt,
    LlmUrlOpt,
    ModelOpt,
    UserOpt,
    components,
    guarded,
    out,
    settings,
)
from docqa.errors import UsageError


def parse_vars(items: list[str]) -> dict[str, object]:
    """KEY=VALUE gives a string; KEY:=JSON gives a typed value (number, list, object, ...)."""
    variables: dict[str, object] = {}
    for item in items:
        parts = split_assignment(item)
        if parts is None or not parts[0].isidentifier():
            raise UsageError(f"--var wants KEY=VALUE or KEY:=JSON, not {item!r}")
        key, value, typed = parts
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
    beams: Annotated[
        int,
        typer.Option(
            "--beams",
            help="Beam search across all the template's slots: keep this many partial "
            "programs, ranked by cumulative log-probability; the best complete one wins.",
            min=1,
            max=16,
        ),
    ] = 1,
    model: ModelOpt = None,
    llm_url: LlmUrlOpt = None,
    user: UserOpt = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """Run a template program: the model fills its gen() and select() slots. The template
    gets the user's profile as `user` (unless --var sets it)."""
    from docqa import contract, render
    from docqa.prompts import load_program

    variables = parse_vars(var or [])
    program = load_program(template)
    comps = components(settings(home, model=model, llm_url=llm_url, user=user))
    variables.setdefault("user", service.profile(comps).template_value())
    llm = comps.llm
    llm.load()
    if beams > 1:
        from docqa.guide.beams import run_beams

        found = run_beams(program, llm, variables, beams)
        result = found[0].result
        if json_out:
            data = contract.program_json(result, llm.name)
            data["beams"] = [contract.beam_json(b) for b in found]
            print(contract.dumps(data))
        else:
            render.print_program(out, result, llm.name)
            render.print_beams(out, found)
        return
    result = program.run(llm, variables)
    if json_out:
        print(contract.dumps(contract.program_json(result, llm.name)))
    else:
        render.print_program(out, result, llm.name)
