#!/usr/bin/env python3
"""Reading the journal back for `docqa monitor report`: Journal.monitoring_rows on a store of
N recorded asks, each with a retrieval of 5 hits and 3 validations, as ask writes them.

    python bench/journal.py [--asks 5000] [--write]

The store is written with SQL, not through docqa's recorder, so the same script times an
older docqa too: `PYTHONPATH=OLD_CHECKOUT python bench/journal.py` (stores before the split
into docqa.store.* read through Store itself).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

# appended, not put first: PYTHONPATH chooses which docqa is timed
sys.path.append(str(Path(__file__).resolve().parent.parent))

from bench.results import write_section  # noqa: E402

HIT = {
    "score": 1.2,
    "dense_score": 0.6,
    "dense_rank": 1,
    "lexical_rank": None,
    "sentence_score": 0.7,
    "lexical_score": 0.5,
    "document_score": 1.3,
    "sentence": [0, 40],
}
GROUNDING = {"status": "grounded", "score": 1.0, "sentences": []}
VALIDATE = {
    "strategy": "initial",
    "template": "qa",
    "queries": ["q"],
    "answer": "a",
    "answerable": True,
    "citations": [1],
    "cited": [],
    "passed": False,
    "reason": "",
    "verdicts": {},
    "grounding": GROUNDING,
    "seconds": 0.1,
    "tokens": {},
    "next": "rewrite",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--asks", type=int, default=5000)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    import docqa
    from docqa.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "docqa.db")
        hits = json.dumps(
            {"attempt": 1, "queries": ["q"], "hits": [{"chunk_id": i, **HIT} for i in range(5)]}
        )
        with store.conn:
            for _ in range(args.asks):
                iid = store.conn.execute(
                    "INSERT INTO interactions (kind, question, status, created_at)"
                    " VALUES ('ask', 'q', 'grounded', '2026-01-01')"
                ).lastrowid
                steps = [("retrieve", hits)] + [
                    ("validate", json.dumps({"attempt": n, **VALIDATE})) for n in (1, 2, 3)
                ]
                store.conn.executemany(
                    "INSERT INTO steps (interaction_id, seq, stage, seconds, data)"
                    " VALUES (?, ?, ?, 0, ?)",
                    [(iid, seq, stage, data) for seq, (stage, data) in enumerate(steps)],
                )
        journal = getattr(store, "journal", store)
        seconds = []
        for _ in range(5):
            begun = time.perf_counter()
            rows = journal.monitoring_rows(everyone=True)
            seconds.append(time.perf_counter() - begun)
        store.close()
    assert len(rows) == args.asks and len(rows[-1]["hits"]) == 5
    median = statistics.median(seconds)
    text = (
        f"{args.asks} asks (a retrieval of 5 hits and 3 validations each), docqa at "
        f"`{Path(docqa.__file__).parent}`; median of 5 reads: **{median:.3f} s** "
        f"({median / args.asks * 1e6:.0f} µs per ask)."
    )
    print(text)
    if args.write:
        write_section("bench/journal.py", "Reading the journal for the monitor report", text)


if __name__ == "__main__":
    main()
