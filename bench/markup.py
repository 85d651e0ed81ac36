"""How much source markup reaches people: of the answers, search snippets and citations docqa
prints for a question set, how many hold reST roles, link targets, directive lines or
Markdown link syntax.

    python bench/markup.py --home DIR --questions FILE [--half dev] [--every 1] [--ask]
        [--out FILE.jsonl] [--load DOCS_DIR]

For each question, `docqa search` runs in this process (the top 5 hits: each one's snippet as
`docqa search` prints it, its heading and its text) and, with --ask, the default answer loop
(the answer, and each citation's heading and text). Every printed string is kept in --out,
so the counts can be checked by hand. It also counts the chunks of the home's store that
hold markup, or an HTML entity (`&amp;`, `&#39;`: text a loader did not decode), and with
--load times `load_document` over a folder's .md and .rst files (best of 3). The script uses
only docqa's service API and the store's tables, so a copy of it runs in a worktree of an
older commit (the "before" of a change).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# What markup looks like in printed text, by kind (the list).
PATTERNS = {
    "rest_role": re.compile(r":[A-Za-z][\w:+.-]*:`"),
    "link_target": re.compile(
        r"`[^`\n]*<[^>\n]+>`_|\w`__?(?!\w)|^\s*\.\. _[^:\n]*:|^\s*__ \S", re.M
    ),
    "directive": re.compile(r"^\s*\.\.\s+[\w:.+-]+::", re.M),
    "markdown_link": re.compile(r"!?\[[^\]\n]+\]\([^)\n]+\)|^\s{0,3}\[[^\]\n]+\]:\s+\S", re.M),
    "inline_literal": re.compile(r"``[^`\n]+``"),  # reST's code markers
}


ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")


def kinds(text: str) -> list[str]:
    return [name for name, pattern in PATTERNS.items() if pattern.search(text or "")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--half")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--ask", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--load", type=Path, help="time load_document over this folder")
    args = parser.parse_args()
    print(store_counts(args.home))
    if args.load:
        print(load_seconds(args.load))

    from docqa import service
    from docqa.components import Components
    from docqa.config import load_settings
    from docqa.flows.ask import AskOptions
    from docqa.flows.evaluate import load_items, normal
    from docqa.render import focused_snippet

    items = load_items(args.questions, half=args.half)[:: args.every]
    comps = Components(load_settings(home=args.home))
    who = service.profile(comps)
    printed: list[dict] = []  # {"what": answer|snippet|citation, "id", "text"}
    try:
        for item in items:
            key = item.extra.get("id")
            for hit in service.search(comps, item.question, 5, who).hits:
                text = focused_snippet(hit).plain
                printed.append({"what": "snippet", "id": key, "text": f"{hit.heading}\n{text}"})
            if args.ask:
                answer = service.ask(comps, item.question, AskOptions(k=5, log=False))
                holds = any(normal(g) in normal(answer.answer) for g in item.answers)
                printed.append(
                    {"what": "answer", "id": key, "text": answer.answer, "holds_gold": holds}
                )
                for c in answer.citations:
                    cited = f"{c.hit.heading}\n{c.hit.text}"
                    printed.append({"what": "citation", "id": key, "text": cited})
    finally:
        comps.close()
    if args.out:
        with args.out.open("w") as sink:
            for row in printed:
                sink.write(json.dumps({**row, "markup": kinds(row["text"])}) + "\n")
    print(f"{len(items)} questions of {args.questions.name} (half {args.half or 'all'})")
    for what in ("answer", "snippet", "citation"):
        rows = [r for r in printed if r["what"] == what]
        if not rows:
            continue
        marked = [r for r in rows if kinds(r["text"])]
        by_kind = {k: sum(k in kinds(r["text"]) for r in rows) for k in PATTERNS}
        detail = ", ".join(f"{k} {n}" for k, n in by_kind.items() if n)
        print(
            f"{what}s: {len(marked)} of {len(rows)} hold markup"
            + (f" ({detail})" if detail else "")
        )
    if args.ask:
        right = sum(bool(r.get("holds_gold")) for r in printed)
        answerable = sum(bool(item.answers) for item in items)
        print(f"answers holding a gold answer: {right} of {answerable} answerable")


def store_counts(home: Path) -> str:
    """How many of the store's chunks (text and heading) hold markup, and an HTML entity."""
    db = sqlite3.connect(f"file:{home / 'docqa.db'}?mode=ro", uri=True)
    try:
        rows = [f"{h}\n{t}" for t, h in db.execute("SELECT text, heading FROM chunks")]
    finally:
        db.close()
    marked = [kinds(r) for r in rows]
    detail = ", ".join(f"{k} {sum(k in m for m in marked)}" for k in PATTERNS)
    entities = sum(bool(ENTITY.search(r)) for r in rows)
    return (
        f"store: {sum(map(bool, marked))} of {len(rows)} chunks hold markup ({detail}); "
        f"{entities} hold an HTML entity"
    )


def load_seconds(docs: Path) -> str:
    from docqa.ingest.loaders import load_document

    files = sorted(p for p in docs.rglob("*") if p.suffix in (".md", ".rst"))
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for file in files:
            load_document(file)
        best = min(best, time.perf_counter() - started)
    size = sum(f.stat().st_size for f in files) / 1e6
    return f"load_document: {len(files)} files, {size:.2f} MB, {best:.3f} s (best of 3)"


if __name__ == "__main__":
    main()
