"""Running the command line in-process, as the tests do."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from docqa.cli import app

runner = CliRunner()


def invoke(*args: object, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def run_docqa(home, *args: object, env: dict | None = None, timeout: float = 600):
    """The command line in a process of its own (real models, concurrency, kills)."""
    return subprocess.run(
        [sys.executable, "-m", "docqa", *map(str, args), "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
