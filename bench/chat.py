"""Prompt tokens evaluated per conversation turn, with the default models on sample_docs.

    python bench/chat.py

(bench/generate.py runs the same conversation for BENCHMARKS.md.)

A three-turn conversation is asked twice, with --max-attempts 1: in one process, as
`docqa chat` runs it (the model's context carries over), and with a new model for every turn,
as separate `docqa ask --session` invocations run it (the history's KV state comes from the
prefix cache on disk). For each turn: prompt tokens, how many were reused, and how many had to
be evaluated.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from docqa import service  # noqa: E402
from docqa.components import Components  # noqa: E402
from docqa.config import Settings  # noqa: E402
from docqa.flows.ask import AskOptions  # noqa: E402
from docqa.flows.ingest import ingest  # noqa: E402

WARMUP = "What is the boiling point of water at sea level?"
TURNS = [
    "Who performed the first human-to-human heart transplant?",
    "In which city?",
    "How many chambers does the heart have?",
]


def converse(home: Path, session: str, new_model_each_turn: bool) -> list[dict]:
    comps = Components(Settings(home=home))
    out = []
    for question in TURNS:
        if new_model_each_turn:
            comps = Components(Settings(home=home), embedder=comps.embedder)
        a = service.ask(comps, question, AskOptions(session=session, max_attempts=1))
        tokens = a.attempts[0].tokens
        out.append({"turn": a.turn, **tokens, "evaluated": tokens["prompt"] - tokens["cached"]})
    return out


def conversations() -> list[tuple[str, list[dict]]]:
    """The conversation in one process (as `chat` runs it), and with a new model per turn (as
    `ask --session` runs it). Each run has a home of its own (sample_docs ingested, then one
    unrelated question asked, so the template's static prefix is in the KV cache as it is
    after any earlier use, but nothing of this conversation is)."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        comps = Components(Settings(home=base))
        ingest(
            [REPO / "sample_docs"],
            store=comps.store,
            embedder=comps.document_embedder,
            index=comps.index,
        )
        comps.close()
        runs = []
        for label, session, fresh in (
            ("`chat` (one process)", "bench-chat", False),
            ("`ask --session` (a new model per turn)", "bench-ask", True),
        ):
            home = Path(tmp) / session
            shutil.copytree(base, home)
            warm = Components(Settings(home=home), embedder=comps.document_embedder)
            service.ask(warm, WARMUP, AskOptions(max_attempts=1, log=False))
            warm.close()
            runs.append((label, converse(home, session, fresh)))
        return runs


def table(runs: list[tuple[str, list[dict]]]) -> list[str]:
    rows = [
        "| run | turn | prompt tokens | reused | prefilled |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, turns in runs:
        rows += [
            f"| {label} | {t['turn']} | {t['prompt']} | {t['cached']} | {t['evaluated']} |"
            for t in turns
        ]
    return rows + [
        "",
        "A three-turn conversation with --max-attempts 1, each run in a home where one "
        "unrelated question was asked before (so the static prefix is in the KV cache). Each "
        "turn prefills its new sources and question (about 1,000 tokens with k=5) and the "
        "previous turn's question and answer; the static instructions and the older history "
        "are reused, from the context in one process or from the KV cache on disk across "
        "processes.",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args()
    print("\n".join(table(conversations())))


if __name__ == "__main__":
    main()
