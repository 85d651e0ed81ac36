"""The README's promises: its two commands, and that CI runs the same test command."""

from __future__ import annotations

import re

from tests.conftest import REPO


def _readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (REPO / "README.md").read_text())[:2]


def test_first_screen_has_exactly_the_two_commands():
    install_and_run, tests = _readme_commands()
    assert "docqa ingest sample_docs" in install_and_run and "docqa ask" in install_and_run
    assert "pip install torch==2.13.0" in install_and_run and "pytest" in tests
    first_screen = (REPO / "README.md").read_text().split("---")[0]
    assert first_screen.count("```sh") == 2


def test_ci_runs_the_readme_test_command():
    _, tests = _readme_commands()
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert tests in ci
