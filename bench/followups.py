"""Follow-up questions in a session: does the second turn ("When was it handed over to
Panama?") find the right document and answer it, knowing what "it" is?

    python bench/followups.py [--model NAME] [--write]

Each conversation of bench/data/followups.jsonl (a question about a sample document, then a
follow-up that names its subject only by a pronoun) is asked in a session of its own over
sample_docs, with the default settings. Counted for the follow-up: the right document first
among the sources retrieved, the final answer holding the expected text, and its status.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
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
from docqa.flows.ingest import ingest  # noqa: E402

CONVERSATIONS = REPO / "bench" / "data" / "followups.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="reader model: a name from `docqa models`, or a GGUF path")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    convs = [json.loads(line) for line in CONVERSATIONS.read_text().splitlines() if line]
    docs = REPO / "sample_docs"
    found = right = grounded = 0
    seconds, lines = [], []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), **({"model": args.model} if args.model else {}))
        comps = Components(settings)
        ingest([docs], store=comps.store, embedder=comps.document_embedder, index=comps.index)
        for conv in convs:
            options = AskOptions(session=conv["id"])
            service.ask(comps, conv["turns"][0], options)
            a = service.ask(comps, conv["turns"][1], options)
            first = a.attempts[0].hits[0].path if a.attempts and a.attempts[0].hits else ""
            hit = str(Path(first).relative_to(docs)) == conv["file"] if first else False
            holds = a.status not in ("unanswerable", "withheld") and (
                conv["answer"].lower() in a.answer.lower()
            )
            found += hit
            right += holds
            grounded += a.status == "grounded"
            seconds.append(a.timings["total"])
            lines.append(
                f"| {conv['turns'][0]} | {conv['turns'][1]} | {'yes' if hit else 'no'} "
                f"| {a.status} | {a.answer[:90]} | {'yes' if holds else 'no'} |"
            )
            print(lines[-1], flush=True)
    n = len(convs)
    cpu = cpu_info()
    text = "\n".join(
        [
            f"Conversations: {n} (bench/data/followups.jsonl), two turns each, over sample_docs; "
            f"model {args.model or 'default'}; default settings. CPU: {cpu.model}, "
            f"{os.cpu_count()} cores.",
            "",
            f"Follow-ups whose first source is the right document: **{found}/{n}**; whose "
            f"answer holds the expected text: **{right}/{n}**; grounded: {grounded}/{n}; "
            f"seconds per follow-up (median): {statistics.median(seconds):.1f}.",
            "",
            "| first turn | follow-up | right document first | status | answer | right |",
            "|---|---|---|---|---|---|",
            *lines,
        ]
    )
    print(text)
    if args.write:
        write_section("bench/followups.py", "Follow-up questions in a session", text)


if __name__ == "__main__":
    main()
