"""Retrieval quality on the bundled corpus with the default embedder.

    python bench/answers.py [--write]

Uses the answerable questions of tests/sample_questions.json (each answered by one sample
document) and reports how often retrieval puts that document first and in the top 5. The
answers themselves are measured by bench/loop.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402
from docqa.components import Components  # noqa: E402
from docqa.config import Settings  # noqa: E402
from docqa.flows.ingest import ingest  # noqa: E402
from docqa.flows.retrieve import retrieve  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    questions = json.loads((REPO / "tests" / "sample_questions.json").read_text())
    answerable = [q for q in questions if q["answerable"]]
    docs = REPO / "sample_docs"

    with tempfile.TemporaryDirectory() as tmp:
        comps = Components(Settings(home=Path(tmp)))
        ingest([docs], store=comps.store, embedder=comps.document_embedder, index=comps.new_index())

        def rel(path: str) -> str:
            return str(Path(path).relative_to(docs))

        top1 = top5 = 0
        for q in answerable:
            found = retrieve(
                q["question"], store=comps.store, embedder=comps.embedder, index=comps.index, k=5
            )
            files = [rel(h.path) for h in found.hits]
            top1 += files[0] == q["file"]
            top5 += q["file"] in files
        rows = [
            f"Questions: {len(answerable)} answerable by one document "
            "(tests/sample_questions.json); k=5.",
            "",
            f"Retrieval: right document first for {top1}/{len(answerable)}, in the top 5 for "
            f"{top5}/{len(answerable)}.",
            "",
            "Answer quality, before and after the answer loop, is measured by bench/loop.py.",
        ]
    text = "\n".join(rows)
    print(text)
    if args.write:
        write_section("bench/answers.py", "Retrieval quality on sample_docs", text)


if __name__ == "__main__":
    main()
