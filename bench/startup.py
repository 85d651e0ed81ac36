"""Start-up: what a new `docqa` process costs before it is useful, measured side by side.

    python bench/startup.py [--repeats 3] [--write]

1. Commands that need no model (`docqa --help`, `docqa docs list`): wall time of a new process,
   and whether it imported torch, sentence-transformers or llama.cpp.
2. A cold `docqa ask` (a new process, `--max-attempts 1`) on sample_docs with the default
   models: seconds from the process's start to the first answer token, and where they went.
   Side by side, each lever on and off:
   - questions embedded by sentence-transformers (torch) or by its ONNX export;
   - the vocabulary tables read from disk or built by walking the vocabulary;
   - a new question (its sources are prefilled) or one whose sources were retrieved before
     (their KV state is restored from disk).
   Before every run the cache folder is put back to the same state: the static prefix, the
   ONNX export, the vocabulary tables and the groundedness pool present, as after one earlier
   question; the questions are the same for every row.
--write puts the tables into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402

QUESTIONS = [
    "Which enzyme fixes carbon dioxide in the Calvin cycle?",
    "On what date was the Eiffel Tower inaugurated?",
    "Who performed the first human-to-human heart transplant?",
    "What did Joseph Priestley find in 1771?",
    "How many steps lead to the top of the Eiffel Tower?",
]
WARMUP = "What is the boiling point of water at sea level?"
HEAVY = ("torch", "sentence_transformers", "transformers", "llama_cpp", "onnxruntime")


def docqa(home: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "docqa", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
    )


def bench_no_model(home: Path, repeats: int) -> list[str]:
    rows = ["| command | seconds (median) | model stack imported |", "|---|---:|---|"]
    for argv in (["--help"], ["docs", "list"]):
        extra = [] if argv == ["--help"] else ["--home", str(home)]
        code = (
            "import sys\nfrom docqa.cli import main\n"
            f"sys.argv = {['docqa', *argv, *extra]!r}\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
        )
        seconds = []
        for _ in range(repeats + 1):
            t = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            seconds.append(time.perf_counter() - t)
        imported = done.stderr.strip().splitlines()[-1]
        label = f"`docqa {' '.join(argv)}`"
        rows.append(f"| {label} | {statistics.median(seconds[1:]):.3f} | {imported} |")
    rows += ["", "Goal: under 0.3 s, importing none of torch, sentence_transformers, llama_cpp."]
    return rows


def cold_ask(home: Path, snapshot: Path, question: str, env: dict, keep_cache=False) -> dict:
    cache = home / "cache"
    if not keep_cache:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(snapshot, cache)
    t = time.perf_counter()
    done = docqa(home, "ask", question, "--max-attempts", "1", "--json", env=env)
    wall = time.perf_counter() - t
    data = json.loads(done.stdout)
    tm = data["timings"]
    return {
        "wall": wall,
        "startup": tm["startup"],
        "load": tm["load"],
        "embed": tm["embed"] + tm["retrieve"],
        "first": tm["startup"] + tm["first_token"],
        "prefilled": data["tokens"]["prompt"] - data["tokens"]["cached"],
        "prompt": data["tokens"]["prompt"],
    }


def bench_cold_ask(home: Path, repeats: int) -> list[str]:
    docqa(home, "ingest", str(REPO / "sample_docs"))  # also makes the ONNX export
    docqa(home, "ask", WARMUP, "--max-attempts", "1", "--json")
    snapshot = home.parent / "cache-snapshot"
    shutil.copytree(home / "cache", snapshot)
    no_tables = home.parent / "cache-no-tables"
    shutil.copytree(snapshot, no_tables)
    for table in no_tables.glob("vocab-*.npz"):
        table.unlink()
    onnx, torch = {}, {"DOCQA_QUERY_EMBEDDER": "torch"}
    configs = [
        ("torch", "built", "new", torch, no_tables),
        ("torch", "on disk", "new", torch, snapshot),
        ("ONNX", "built", "new", onnx, no_tables),
        ("ONNX", "on disk", "new", onnx, snapshot),
        ("ONNX", "on disk", "seen before", onnx, snapshot),
    ]
    runs: dict[int, list[dict]] = {i: [] for i in range(len(configs))}
    for question in QUESTIONS[:repeats]:  # rows interleaved, so load drifts hit all of them
        for i, (_, _, sources, env, snap) in enumerate(configs):
            if sources == "seen before":
                cold_ask(home, snap, question, env)  # retrieves and saves the sources' state
                runs[i].append(cold_ask(home, snap, question, env, keep_cache=True))
            else:
                runs[i].append(cold_ask(home, snap, question, env))
    med = {i: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for i, rs in runs.items()}
    rows = [
        "| question embedder | vocabulary tables | sources | start-up | load | embed + "
        "search | tokens prefilled | **first answer token** | whole process |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for i, (embedder, tables, sources, _, _) in enumerate(configs):
        m = med[i]
        rows.append(
            f"| {embedder} | {tables} | {sources} | {m['startup']:.2f} | {m['load']:.2f} | "
            f"{m['embed']:.3f} | {m['prefilled']:.0f} of {m['prompt']:.0f} | "
            f"**{m['first']:.2f}** | {m['wall']:.2f} |"
        )
    before, after, seen = med[0], med[3], med[4]
    rate = (after["prefilled"]) / max(after["first"] - after["startup"] - after["load"], 1e-9)
    rows += [
        "",
        f"Seconds, median of {repeats} questions, each row in new processes; start-up is from "
        "the process's start to the question (imports, settings, store), load is the "
        "embedder and the model, first answer token is counted from the process's start "
        "(`timings.startup + timings.first_token` of `ask --json`).",
        "",
        f"- Time to the first answer token: **{before['first']:.2f} s -> {after['first']:.2f} s"
        f" ({before['first'] / after['first']:.2f}x)** for a new question, "
        f"**{seen['first']:.2f} s** when its sources were retrieved before "
        "(goal: under 1.5 s).",
        f"- Before the prefill starts, a cold ask now spends {after['startup'] + after['load']:.2f}"
        f" s (was {before['startup'] + before['load']:.2f} s). What is left for a new question "
        f"is prefilling its ~{after['prefilled']:.0f} new prompt tokens (k=5 sources) at about "
        f"{rate:.0f} tokens/s on this machine: the 1.5 s goal needs a question whose sources "
        "are in the KV cache, a smaller k, or faster hardware.",
    ]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, choices=range(1, len(QUESTIONS) + 1))
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        sections = [
            (
                "Cold `docqa ask`: time to the first answer token",
                bench_cold_ask(home, args.repeats),
            ),
            ("Commands that load no model", bench_no_model(home, args.repeats)),
        ]
    text = "\n\n".join(f"### {title}\n\n" + "\n".join(rows) for title, rows in sections)
    print(text)
    if args.write:
        write_section("bench/startup.py", "Start-up", text)


if __name__ == "__main__":
    main()
