"""Running the command line in-process, as the tests do."""

from __future__ import annotations

from typer.testing import CliRunner

from docqa.cli import app

runner = CliRunner()


def invoke(*args: object, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)
