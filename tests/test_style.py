"""The code stays ruff-clean (lint and format), so style never drifts between sessions."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO

ruff = shutil.which("ruff")


@pytest.mark.skipif(ruff is None, reason="ruff is installed with the test extra")
@pytest.mark.parametrize("args", [["check"], ["format", "--check"]])
def test_ruff(args):
    result = subprocess.run(
        [ruff, *args, "docqa", "tests", "bench"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
