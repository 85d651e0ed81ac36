#!/usr/bin/env python3
"""Two revisions side by side: every quick benchmark of bench/run_all on each, in turn.

    python bench/compare.py BEFORE AFTER [--only bench/X.py ...] [--keep DIR] [--write]

For a change that must not cost speed (a refactor): each revision is checked out into a
temporary git worktree, and each benchmark runs on BEFORE and then at once on AFTER, so both
see the same machine state. Prints the seconds each took, side by side; the figures each run
writes go to its worktree's BENCHMARKS.md (kept in --keep DIR, to compare in detail). Takes
twice as long as bench/run_all (about 35 minutes here).
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402


def quick_list() -> list[tuple[str, ...]]:
    """bench/run_all's quick benchmarks (run_all is a script without a .py suffix)."""
    module = ast.parse((REPO / "bench" / "run_all").read_text())
    for node in module.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "QUICK":
            return ast.literal_eval(node.value)
    raise SystemExit("bench/run_all has no QUICK list")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--keep", type=Path, help="keep the two worktrees in this folder")
    ap.add_argument(
        "--only", action="append", help="run only this benchmark (repeatable), e.g. bench/loop.py"
    )
    ap.add_argument("--write", action="store_true", help="write the table to BENCHMARKS.md")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="docqa-compare-"))
    trees = {}
    for name, rev in (("before", args.before), ("after", args.after)):
        trees[name] = base / name
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "-f", "--detach", str(trees[name]), rev],
            check=True,
        )
    rows = [
        f"| benchmark | {args.before} s | {args.after} s | after / before |",
        "|---|---:|---:|---:|",
    ]
    try:
        chosen = [b for b in quick_list() if not args.only or b[0] in args.only]
        for script, *options in chosen:
            command = " ".join([script, *options])
            missing = [name for name, tree in trees.items() if not (tree / script).exists()]
            if missing:  # a benchmark one of the revisions does not have
                rows.append(f"| `{command}` | (not in {', '.join(missing)}) | | |")
                print(rows[-1], flush=True)
                continue
            seconds = {}
            for name, tree in trees.items():
                env = {
                    **os.environ,
                    "HF_HUB_OFFLINE": "1",
                    "TRANSFORMERS_OFFLINE": "1",
                    "PYTHONPATH": str(tree),  # the worktree's docqa, not the installed one
                }
                started = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, str(tree / script), *options, "--write"], env=env, cwd=tree
                )
                if done.returncode:
                    raise SystemExit(f"{script} failed on {name} (exit {done.returncode})")
                seconds[name] = time.perf_counter() - started
            ratio = seconds["after"] / seconds["before"]
            rows.append(
                f"| `{command}` | {seconds['before']:.0f} | {seconds['after']:.0f} | {ratio:.2f} |"
            )
            print(rows[-1], flush=True)
    finally:
        if args.keep is None:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "-f", str(tree)])
    text = "\n".join(rows)
    print(text)
    if args.write:
        write_section("bench/compare.py", "Before and after a change", text)


if __name__ == "__main__":
    main()
