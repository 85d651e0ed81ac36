"""Writing one benchmark's section of BENCHMARKS.md, in place, between its markers."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def write_section(script: str, title: str, text: str) -> None:
    """Replace (or append) the section written by `script` (e.g. "bench/ingest.py")."""
    begin, end = f"<!-- {script} begin -->", f"<!-- {script} end -->"
    command = " ".join(["python", script, *sys.argv[1:]])
    block = f"{begin}\n## {title}\n\nCommand: `{command}`\n\n{text}\n{end}"
    current = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    if begin in current:
        head, rest = current.split(begin, 1)
        current = head + block + rest.split(end, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    BENCHMARKS.write_text(current)
