"""What the answer loop buys, and what it costs, on the bundled corpus with the default models.

    python bench/loop.py [--write] [--mode generative|extractive]... [--max-attempts N]

Every question of tests/sample_questions.json (answerable by one document, or by none) is
asked once with the loop. "Before" is what the first attempt alone would have returned (the
same decision applied to attempt 1 only: `--max-attempts 1`), "after" is the loop's final
answer, so both come from one run, side by side. Latency: the loop's total time per question
against the time the first attempt took to reach its answer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402
from docqa import service  # noqa: E402
from docqa.components import Components  # noqa: E402
from docqa.config import Settings  # noqa: E402
from docqa.flows.ask import AskOptions  # noqa: E402
from docqa.flows.decide import decide  # noqa: E402
from docqa.flows.ingest import ingest  # noqa: E402
from docqa.records import ANONYMOUS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--mode", action="append", choices=["generative", "extractive"])
    ap.add_argument("--max-attempts", type=int, default=3)
    ap.add_argument(
        "--every",
        type=int,
        default=1,
        help="ask every N-th answerable and every N-th unanswerable question (a quicker run)",
    )
    ap.add_argument(
        "--grammar-forcing",
        action="append",
        choices=["canonical", "model"],
        help="how forced text is tokenized (docqa.toml grammar_forcing); give both to compare",
    )
    ap.add_argument("--model", help="reader model: a name from `docqa models`, or a GGUF path")
    ap.add_argument("--context-tokens", type=int, help="the reader's context budget")
    args = ap.parse_args()
    modes = args.mode or ["generative", "extractive"]
    forcings = args.grammar_forcing or ["canonical"]
    questions = json.loads((REPO / "tests" / "sample_questions.json").read_text())
    answerable = [q for q in questions if q["answerable"]][:: args.every]
    refusable = [q for q in questions if not q["answerable"]][:: args.every]
    docs = REPO / "sample_docs"
    subset = "" if args.every == 1 else f", every {args.every}th of each kind"
    subset += f"; model {args.model or 'default'}"

    rows = [
        f"Questions: {len(answerable)} answerable by one document, {len(refusable)} by none "
        f"(tests/sample_questions.json{subset}); k=5; --max-attempts {args.max_attempts}. "
        "Before = the first attempt alone; after = the loop's final answer (same run).",
        "",
        "| mode | | grounded (answerable) | holds the expected text | cites the right "
        "document | unanswerable refused | mean attempts | seconds per question (median) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    details = [
        "",
        "| mode | final answer from (initial / rewrite / extractive / not found) | first "
        "attempts rejected for: invented facts / no similar source sentence / citations / "
        "not an answer / refused or off the question | validation s per attempt (median) |",
        "|---|---|---|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        chosen = {"model": args.model} if args.model else {}
        if args.context_tokens is not None:
            chosen["context_tokens"] = args.context_tokens
        by_forcing = {
            f: Components(Settings(home=Path(tmp), grammar_forcing=f, **chosen)) for f in forcings
        }
        comps = by_forcing[forcings[0]]
        ingest([docs], store=comps.store, embedder=comps.document_embedder, index=comps.index)
        t0 = time.perf_counter()
        comps.null_pool(ANONYMOUS)  # built once per store (then cached on disk)
        pool_seconds = time.perf_counter() - t0

        def rel(path: str) -> str:
            return str(Path(path).relative_to(docs))

        runs = [(f, m) for f in forcings for m in modes]
        for forcing, mode_name in runs:
            comps = by_forcing[forcing]
            mode = mode_name
            options = AskOptions(k=5, mode=mode, log=False, max_attempts=args.max_attempts)
            if len(forcings) > 1:
                mode = f"{mode_name}, {forcing} forcing"
            tally = {
                k: {"grounded": 0, "correct": 0, "cited": 0, "refused": 0}
                for k in ("before", "after")
            }
            attempts, first_seconds, total_seconds = [], [], []
            finals, rejected, validate_seconds = Counter(), Counter(), []
            for q in answerable + refusable:
                a = service.ask(comps, q["question"], options)
                first = a.attempts[0]
                status_1, chosen_1 = decide([first])
                outcomes = {
                    "before": (
                        status_1,
                        chosen_1.answer if chosen_1 else "",
                        {rel(h.path) for h in first.cited} if chosen_1 else set(),
                    ),
                    "after": (a.status, a.answer, {rel(c.hit.path) for c in a.citations}),
                }
                for key, (status, text, cites) in outcomes.items():
                    t = tally[key]
                    if q["answerable"]:
                        t["grounded"] += status == "grounded"
                        t["correct"] += status != "unanswerable" and (
                            q["answer_contains"].lower() in text.lower()
                        )
                        t["cited"] += q["file"] in cites
                    else:
                        t["refused"] += status == "unanswerable"
                _, chosen = decide(a.attempts)
                finals[chosen.strategy if chosen else "not found"] += 1
                if not first.passed:
                    rejected[_why(first)] += 1
                validate_seconds.append(a.timings["validate"] / len(a.attempts))
                attempts.append(len(a.attempts))
                first_seconds.append(a.timings["total"] - sum(x.seconds for x in a.attempts[1:]))
                total_seconds.append(a.timings["total"])
                print(
                    f"{mode} {len(a.attempts)} {a.status:18s} {q['question'][:50]!r} -> "
                    f"{a.answer[:60]!r}",
                    flush=True,
                )
            for key in ("before", "after"):
                t = tally[key]
                n_att = f"{statistics.mean(attempts):.2f}" if key == "after" else "1.00"
                secs = statistics.median(total_seconds if key == "after" else first_seconds)
                rows.append(
                    f"| {mode} | {key} | {t['grounded']}/{len(answerable)} "
                    f"| {t['correct']}/{len(answerable)} | {t['cited']}/{len(answerable)} "
                    f"| {t['refused']}/{len(refusable)} | {n_att} | {secs:.1f} |"
                )
            ratio = statistics.mean(total_seconds) / statistics.mean(first_seconds)
            rows.append(
                f"| {mode} | cost | | | | | | loop/first attempt: **{ratio:.2f}x** mean time |"
            )
            details.append(
                f"| {mode} | {' / '.join(str(finals[k]) for k in FINALS)} "
                f"| {' / '.join(str(rejected[k]) for k in REASONS)} "
                f"| {statistics.median(validate_seconds):.3f} |"
            )
    rows += details
    rows += [
        "",
        f"Building the store's unrelated-sentence pool (`docqa ingest` does it after a change, "
        f"for readers of public documents; for a group set, its first ask; then it is cached "
        f"on disk): {pool_seconds:.2f} s.",
        "",
        "Grounded: every sentence of the answer passed the groundedness check (verbatim, or "
        "closer to a cited source sentence than 95% of random unrelated source sets, with "
        "every number, date, name and quotation found in the cited sources), the citations "
        "are valid, and the answer is about the question. Refused: the final status is "
        "`unanswerable`.",
    ]
    text = "\n".join(rows)
    print(text)
    if args.write:
        write_section("bench/loop.py", "The answer loop on sample_docs", text)


FINALS = ("initial", "rewrite", "extractive", "not found")
REASONS = (
    "invented facts",
    "no similar sentence",
    "citations",
    "not an answer",
    "refused or off the question",
)


def _why(attempt) -> str:
    """The first reason an attempt failed, in the table's words."""
    failed = {v.name for v in attempt.verdicts if not v.ok}
    if "grounded" in failed:
        if any(s.missing for s in attempt.grounding.unsupported()):
            return "invented facts"
        return "no similar sentence"
    if "citations" in failed:
        return "citations"
    return "not an answer" if "answers" in failed else "refused or off the question"


if __name__ == "__main__":
    main()
