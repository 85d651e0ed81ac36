"""The ask template's worked examples: what their prefix costs a cold `docqa ask`, and after.

    python bench/prefix.py --home DIR [--template NAME|PATH ...] [--questions 3] [--write]

The template's system text and worked examples end at its first cache point, so a process
restores their KV state from DOCQA_HOME/cache instead of prefilling them, once any ask has
saved it. For each template, each question (the first --questions answerable questions of
the test half of bench/data/postgres15.jsonl) is asked in a new process with
`docqa ask --max-attempts 1 --no-log --json`, twice:
- no KV state on disk (the cache's *.kv files deleted): the prefix is prefilled with the
  sources and the question;
- the prefix's state on disk (the *.kv files deleted, then one ask of another question):
  only the sources and the question are prefilled.
First answer token: seconds from the process's start (`timings.startup +
timings.first_token`). --home is a docqa home holding the PostgreSQL 15 manual; its KV cache
files are deleted as the rows need.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402
from docqa.adapters.llama_runtime import cpu_info  # noqa: E402

QSET = REPO / "bench" / "data" / "postgres15.jsonl"
OTHER = "What is the default port of the PostgreSQL server?"  # saves the prefix's state


def ask(home: Path, question: str, template: str) -> dict:
    t = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "docqa", "ask", question, "--home", str(home), "--no-log",
         "--max-attempts", "1", "--json", "--template", template],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"docqa ask failed ({done.returncode}):\n{done.stderr[-2000:]}")
    data = json.loads(done.stdout)
    tm, tokens = data["timings"], data["tokens"]
    return {
        "first": tm["startup"] + tm["first_token"],
        "wall": time.perf_counter() - t,
        "prefilled": tokens["prompt"] - tokens["cached"],
        "prompt": tokens["prompt"],
    }


def forget(home: Path) -> None:
    for state in (home / "cache").glob("*.kv"):
        state.unlink()


def measure(home: Path, template: str, questions: list[str]) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {"no KV state on disk": [], "prefix on disk": []}
    for question in questions:
        forget(home)
        runs["no KV state on disk"].append(ask(home, question, template))
        forget(home)
        ask(home, OTHER, template)
        runs["prefix on disk"].append(ask(home, question, template))
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--template", action="append")
    ap.add_argument("--questions", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    rows = [json.loads(line) for line in QSET.read_text().splitlines() if line.strip()]
    questions = [
        r["question"] for r in rows if r.get("half") == "test" and r.get("answerable", True)
    ][: args.questions]
    cpu = cpu_info()
    lines = [
        f"Questions: the first {len(questions)} answerable questions of the test half of "
        f"`bench/data/postgres15.jsonl`; default reader and context; each ask a new process. "
        f"CPU: {cpu.model}, {os.cpu_count()} cores ({' '.join(cpu.features)}).",
        "",
        "| template | KV state | tokens prefilled | **first answer token** s | whole process s |",
        "|---|---|---:|---:|---:|",
    ]
    for template in args.template or ["qa"]:
        for state, runs in measure(args.home, template, questions).items():
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            lines.append(
                f"| {Path(template).stem} | {state} | {med['prefilled']:.0f} of "
                f"{med['prompt']:.0f} | **{med['first']:.2f}** | {med['wall']:.2f} |"
            )
    lines += ["", "Medians over the questions."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("bench/prefix.py", "The ask template's worked examples: cold and warm", text)


if __name__ == "__main__":
    main()
