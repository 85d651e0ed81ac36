"""Commands that need no model start without importing one: `docqa --help` and `docqa docs
list` must never pay for torch, sentence-transformers or llama.cpp (timings live in
bench/startup.py, not here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = (
    "torch",
    "sentence_transformers",
    "transformers",
    "llama_cpp",
    "onnxruntime",
    "sklearn",
    "scipy",
    "matplotlib",
)


def _imported_by(*argv: str, home) -> list[str]:
    full = ["docqa", *argv] if "--help" in argv else ["docqa", *argv, "--home", str(home)]
    code = (
        "import sys\n"
        "from docqa.cli import main\n"
        f"sys.argv = {full!r}\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print(' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stderr.strip().splitlines()[-1].split() if done.stderr.strip() else []


@pytest.mark.parametrize("argv", [("--help",), ("docs", "list"), ("docs", "list", "--json")])
def test_commands_without_a_model_import_no_model_stack(argv, tmp_path):
    assert _imported_by(*argv, home=tmp_path) == []


def test_process_age_is_the_time_since_the_process_started():
    code = (
        "import time\n"
        "time.sleep(0.3)\n"
        "from docqa.clock import process_age, startup\n"
        "print(process_age(), startup(), startup())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    age, first, second = done.stdout.split()
    assert 0.3 <= float(age) < 10 and 0.3 <= float(first) < 10 and second == "None"
