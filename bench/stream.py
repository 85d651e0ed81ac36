"""Streamed answers: how long a person waits for the first character of the answer, against
the whole answer, on the bundled corpus with the default models.

    python bench/stream.py [--every N] [--write]

Every N-th question of tests/sample_questions.json is asked once through `service.ask` with a
listener, as `docqa ask` at a terminal does (one process, models loaded once, the first
question not counted). First visible character: from the question to the first answer text
the listener is told (the text a terminal shows, of whichever attempt); whole answer: from
the question to the loop's final answer, checks and any further attempts included.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402
from docqa import service  # noqa: E402
from docqa.adapters.llama_runtime import cpu_info  # noqa: E402
from docqa.components import Components  # noqa: E402
from docqa.config import Settings  # noqa: E402
from docqa.flows.ask import AskOptions  # noqa: E402
from docqa.flows.events import AnswerText  # noqa: E402
from docqa.flows.ingest import ingest  # noqa: E402
from docqa.records import ANONYMOUS  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=int, default=2, help="ask every N-th sample question")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    questions = json.loads((REPO / "tests" / "sample_questions.json").read_text())[:: args.every]
    first_seen, whole, attempts = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        comps = Components(Settings(home=Path(tmp)))
        ingest(
            [REPO / "sample_docs"],
            store=comps.store,
            embedder=comps.document_embedder,
            index=comps.index,
        )
        comps.null_pool(ANONYMOUS)
        options = AskOptions(log=False)
        service.ask(comps, "What is this collection about?", options)  # warm-up, not counted
        for q in questions:
            seen: list[float] = []

            def listener(event, seen=seen) -> None:
                if isinstance(event, AnswerText) and not seen:
                    seen.append(time.perf_counter())

            started = time.perf_counter()
            answer = service.ask(comps, q["question"], options, listener=listener)
            ended = time.perf_counter()
            whole.append(ended - started)
            first_seen.append((seen[0] if seen else ended) - started)
            attempts.append(len(answer.attempts))
        model = comps.llm.name
        comps.close()
    cpu = cpu_info()
    ratios = [w / f for f, w in zip(first_seen, whole, strict=True) if f > 0]
    text = "\n".join(
        [
            f"Questions: one in {args.every} of tests/sample_questions.json ({len(questions)}); "
            f"default settings, reader {model}; one process. CPU: {cpu.model}, "
            f"{os.cpu_count()} cores ({' '.join(cpu.features)}).",
            "",
            "| | p50 s | p95 s |",
            "|---|---:|---:|",
            f"| first visible character of the answer | {statistics.median(first_seen):.2f} | "
            f"{percentile(first_seen, 0.95):.2f} |",
            f"| whole answer (checks and further attempts included) | "
            f"{statistics.median(whole):.2f} | {percentile(whole, 0.95):.2f} |",
            "",
            f"The whole answer takes {statistics.median(ratios):.1f}x as long as the first "
            f"visible character (median of per-question ratios); "
            f"{sum(a > 1 for a in attempts)} of {len(attempts)} questions needed more than one "
            "attempt, whose first characters are those of a rejected answer, shown struck "
            "through once it is rejected.",
        ]
    )
    print(text)
    if args.write:
        write_section("bench/stream.py", "Streamed answers: first character, whole answer", text)


if __name__ == "__main__":
    main()
