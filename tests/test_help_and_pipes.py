"""Help texts read as prose, and output to a pipe keeps every word and path whole."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from docqa.cli import app
from tests.cli import invoke


def _commands(command, path: tuple[str, ...] = ()):
    yield path, command
    if hasattr(command, "commands"):  # a group (Typer's click may be its own copy)
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_every_command_is_listed():
    names = {" ".join(path) for path, _ in COMMANDS}
    expected = {"ask", "chat", "trace", "log list", "docs list", "users list", "monitor report"}
    assert expected <= names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "docqa")
def test_help_reads_as_prose(path):
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    shown = result.stdout
    assert "<bool>" not in shown  # a flag takes no value
    # no word cut from its full stop or comma by text that went missing ("retrieve .")
    assert not re.search(r"\w [.,;:](\s|$)", shown), re.findall(r".{20}\w [.,;:]", shown)
    command = dict(COMMANDS)[path]
    for paragraph in (command.help or "").split("\n\n"):
        lines = paragraph.splitlines()
        # one line per paragraph, unless it is an indented list
        assert len(lines) == 1 or all(line.startswith(" ") for line in lines[1:]), paragraph


def _piped(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_output_in_a_pipe_keeps_paths_and_questions_whole(ingested, fakes):
    question = "Which carbon dioxide fixing enzyme makes photosynthesis possible in green plants?"
    assert invoke("ask", question, "--json").exit_code == 0
    listing = _piped("docs", "list")
    path = str(ingested / "eiffel_tower.txt")
    assert any(path in line for line in listing.splitlines()), listing
    log = _piped("log", "list")
    assert any(question in line for line in log.splitlines()), log
    trace = _piped("trace", "1")
    assert question in trace
    assert re.search(r"\.(txt|md|html|pdf|rst):lines \d+-\d+", trace), trace
