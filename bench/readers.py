"""Reader models side by side, in one run: how often each one's answer holds the gold answer
on a real question set, how often it refuses (rightly and wrongly), and its speed and memory
on this machine.

For each model (a name from `docqa models`, or a GGUF path) and each context budget:
- `docqa eval QUESTIONS --mode ask --half HALF --model M --context-tokens C --json` in a fresh
  process on a store that holds the question set's documents (PostgreSQL 15 manual for
  bench/data/postgres15.jsonl), every Nth question of the half; the child's peak RSS;
- a speed probe in another fresh process: load time, prefill tokens/s of a 600-token prompt,
  decode tokens/s of 64 greedy tokens.

    python bench/readers.py --home DIR [--every 3] [--half dev] [--model NAME ...]
        [--context-tokens 400 ...] [--max-attempts 1] [--write]

--home is a docqa home where the documents are ingested (bench/retrieval_quality.py makes
one: /tmp/rq-work/home-passages1). Each (model, budget) result is kept in --work as JSON, so
an interrupted run picks up where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402
from docqa.adapters.llama_runtime import cpu_info  # noqa: E402

QUESTIONS = ROOT / "bench" / "data" / "postgres15.jsonl"
PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
from docqa.config import load_settings, resolve_model_path
from docqa.adapters.llama_engine import LlamaEngine
path = resolve_model_path(load_settings(model=sys.argv[1]))
engine = LlamaEngine(path, n_ctx=2048)
t1 = time.perf_counter()
engine.load()
load = time.perf_counter() - t1
text = open(sys.argv[2]).read()
tokens = engine.tokenize(text)[:600]
t = time.perf_counter(); engine.prefill(tokens); prefill = time.perf_counter() - t
import numpy as np
t = time.perf_counter()
for _ in range(64):
    engine.push(int(np.argmax(engine.logits())))
decode = time.perf_counter() - t
print(json.dumps({"load_s": load, "prefill_tps": len(tokens) / prefill,
                  "decode_tps": 64 / decode, "bytes": path.stat().st_size,
                  "file": path.name}))
"""


def run_child(cmd: list[str], env: dict) -> tuple[str, int, float]:
    """Run a command; its stdout, peak RSS (KB) and wall seconds."""
    t = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        text = out.read().decode()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{err.read().decode()[-2000:]}")
    return text, usage.ru_maxrss, seconds


def subset(half: str, every: int, work: Path) -> Path:
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("half") == half]
    answerable = [r for r in rows if r.get("answerable", True)][::every]
    refused = [r for r in rows if not r.get("answerable", True)][::every]
    path = work / f"{half}-every{every}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in answerable + refused))
    return path


def evaluate(model: str, budget: int, qset: Path, args, env: dict, template: str = "") -> dict:
    key = f"{Path(model).name}-{budget}-{args.max_attempts}-{args.answer_mode}-{qset.stem}"
    if template:
        key += f"-{Path(template).stem}"
    cache = args.work / f"{key}.json"
    if cache.is_file() and not args.fresh:
        return json.loads(cache.read_text())
    cmd = [sys.executable, "-m", "docqa", "eval", str(qset), "--mode", "ask", "--json"]
    cmd += ["--model", model, "--context-tokens", str(budget)]
    cmd += ["--max-attempts", str(args.max_attempts), "--home", str(args.home)]
    cmd += ["--answer-mode", args.answer_mode]
    if template:
        cmd += ["--template", template]
    text, rss, seconds = run_child(cmd, env)
    report = json.loads(text)
    report["rss_kb"], report["wall_s"] = rss, seconds
    cache.write_text(json.dumps(report))
    return report


def probe(model: str, env: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.txt"
        sample.write_text((ROOT / "sample_docs" / "history" / "panama_canal.txt").read_text() * 3)
        text, rss, _ = run_child([sys.executable, "-c", PROBE, model, str(sample)], env)
    return {**json.loads(text), "probe_rss_kb": rss}


def row(model: str, budget: int, r: dict, speed: dict | None, template: str = "") -> dict:
    answerable = r["answerable"]
    unanswerable = r["unanswerable"]
    seconds = [q["seconds"] for q in r["questions"]]
    firsts = [q["first_token"] for q in r["questions"] if q.get("first_token") is not None]
    import numpy as np

    questions = [q for q in r["questions"] if q["answerable"] and q["expected"]]
    grounded = [q for q in questions if q["status"] == "grounded"]
    drafted = [q for q in questions if q.get("drafted")]
    return {
        "precision": sum(q["correct"] for q in grounded) / len(grounded) if grounded else None,
        "recall": (
            sum(q["status"] == "grounded" for q in drafted) / len(drafted) if drafted else None
        ),
        "drafted": len(drafted),
        "model": model,
        "template": Path(template).stem if template else "qa",
        "budget": budget,
        "right": r["correct"],
        "answerable": answerable,
        "refused_right": r["correct_refusals"],
        "unanswerable": unanswerable,
        "false_refusals": r["false_refusals"],
        "grounded_but_wrong": r["grounded_but_wrong"],
        "p50": float(np.percentile(seconds, 50)),
        "p95": float(np.percentile(seconds, 95)),
        "first_p50": float(np.percentile(firsts, 50)) if firsts else None,
        "rss_mb": r["rss_kb"] / 1024,
        **(speed or {}),
    }


def _share(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"


def table(rows: list[dict], qset: Path, args) -> str:
    cpu = cpu_info()
    lines = [
        f"Questions: `{QUESTIONS.relative_to(ROOT)}`, half {args.half}, every {args.every}"
        f" ({rows[0]['answerable']} answerable, {rows[0]['unanswerable']} not answerable by"
        f" the manual); --answer-mode {args.answer_mode}, --max-attempts {args.max_attempts}."
        f" CPU: {cpu.model},"
        f" {os.cpu_count()} cores ({' '.join(cpu.features)}).",
        "",
        "| model | template | context tokens | holds the gold answer | unanswerable refused "
        "| false refusals | wrong but grounded | grounded: precision | recall "
        "| s/question p50 | p95 | first token p50 "
        "| prefill tok/s | decode tok/s | load s | peak RSS MB | file MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        first = "" if r["first_p50"] is None else f"{r['first_p50']:.1f}"
        lines.append(
            f"| {r['model']} | {r['template']} | {r['budget'] or 'whole chunks'} "
            f"| {r['right']}/{r['answerable']} ({r['right'] / r['answerable']:.2f}) "
            f"| {r['refused_right']}/{r['unanswerable']} | {r['false_refusals']} "
            f"| {r['grounded_but_wrong']} | {_share(r['precision'])} | {_share(r['recall'])} "
            f"| {r['p50']:.1f} | {r['p95']:.1f} "
            f"| {first} "
            f"| {r.get('prefill_tps', 0):.0f} | {r.get('decode_tps', 0):.1f} "
            f"| {r.get('load_s', 0):.2f} | {r['rss_mb']:.0f} | {r.get('bytes', 0) / 1e6:.0f} |"
        )
    lines += [
        "",
        "Holds the gold answer: the final answer contains one of the question's gold short "
        "answers (case, spacing and digit grouping aside) and is not a refusal. Grounded "
        "precision: of the answerable questions answered `grounded`, the share right; recall: "
        "of those where some attempt's answer held the gold answer, the share answered "
        "`grounded`. Seconds per question are "
        "in-process (`docqa eval` keeps one model loaded); first token: from the question to "
        "the first answer token. Prefill, decode and load: a 600-token prompt and 64 greedy "
        "tokens in a fresh process. Peak RSS: the `docqa eval` process.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--half", default="dev")
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--model", action="append")
    parser.add_argument("--context-tokens", type=int, action="append")
    parser.add_argument(
        "--template",
        action="append",
        help="a template name or .j2 path to compare (bench/templates/ holds the variants "
        "measured against templates/qa.j2); default: the configured one",
    )
    parser.add_argument("--max-attempts", type=int, default=1)
    parser.add_argument("--answer-mode", default="generative", choices=["generative", "extractive"])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "readers")
    parser.add_argument("--fresh", action="store_true", help="ignore kept results")
    parser.add_argument("--no-probe", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env["PYTHONPATH"] = str(ROOT)
    models = args.model or ["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
    budgets = args.context_tokens or [400]
    qset = subset(args.half, args.every, args.work)
    rows = []
    for model in models:
        speed = None if args.no_probe else probe(model, env)
        for template in args.template or [""]:
            for budget in budgets:
                report = evaluate(model, budget, qset, args, env, template)
                r = row(model, budget, report, speed, template)
                rows.append(r)
                print(json.dumps(r), flush=True)
    text = table(rows, qset, args)
    print(text)
    if args.write:
        write_section("bench/readers.py", "Reader models on a real question set", text)


if __name__ == "__main__":
    main()
