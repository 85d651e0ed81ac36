"""Question sets with gold evidence over a real corpus (bench/data/*.jsonl), and their checker.

    python bench/questions.py check bench/data/postgres15.jsonl [--docs HTML_DIR]
    python bench/questions.py show sql-createtable.html [--docs HTML_DIR]
    python bench/questions.py sample OUT.jsonl

Each line of a set: `id`, `question` (as a user would ask it, not copied from the text),
`file` (the page the answer is on), `evidence` (a passage copied from that page: a retrieved
chunk must hold it), `answer` (a short answer, or a list of acceptable ones: a right answer
holds one, case-insensitive), `half` (`dev`, for tuning, or `test`, reported only), and
`answerable: false` for questions the corpus does not answer (no file, evidence or answer).
`check` verifies every evidence string occurs, whitespace and case aside, inside one block of
its page as docqa's own HTML loader reads it (so a chunk can hold it), that ids are unique,
that each answer occurs in its evidence or page, and counts both halves. `show` prints a
page's blocks as docqa reads them, for whoever writes questions. `sample` writes
tests/sample_questions.json as such a set, for `docqa eval` over sample_docs: each answerable
question's `answer_contains` is both its evidence and its answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from docqa.flows.evaluate import normal  # noqa: E402  (how `docqa eval` matches evidence)


def load(path: Path) -> list[dict]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except ValueError as exc:
                raise SystemExit(f"{path}:{n}: not JSON: {exc}") from exc
    return items


def blocks(page: Path) -> list[str]:
    from docqa.ingest.loaders import load_document

    return [b.text for b in load_document(page).blocks]


def problems(items: list[dict], docs: Path) -> list[str]:
    found, ids, pages = [], Counter(i.get("id") for i in items), {}
    found += [f"id {i!r} is used {n} times" for i, n in ids.items() if n > 1]
    for item in items:
        where = item.get("id", "?")
        if not item.get("question") or item.get("half") not in ("dev", "test"):
            found.append(f"{where}: needs a question and half dev|test")
        if item.get("answerable", True) is False:
            if item.get("evidence") or item.get("answer"):
                found.append(f"{where}: an unanswerable question has no evidence or answer")
            continue
        page = docs / str(item.get("file", ""))
        if not page.is_file():
            found.append(f"{where}: no page {item.get('file')!r}")
            continue
        if page not in pages:
            pages[page] = [normal(b) for b in blocks(page)]
        evidence = normal(item.get("evidence", ""))
        if len(evidence) < 20 or not any(evidence in b for b in pages[page]):
            found.append(f"{where}: evidence not found in one block of {page.name}")
        answers = item.get("answer")
        answers = [answers] if isinstance(answers, str) else answers or []
        whole = " ".join(pages[page])
        if not answers or not any(normal(a) in whole for a in answers):
            found.append(f"{where}: no answer, or none of its answers occurs in {page.name}")
    return found


def default_docs() -> Path:
    from bench.corpora import postgres_docs

    return postgres_docs(Path(tempfile.gettempdir()) / "docqa-corpora")


def write_sample_set(out: Path) -> None:
    questions = json.loads((REPO / "tests" / "sample_questions.json").read_text())
    with out.open("w") as sink:
        for n, q in enumerate(questions):
            row = {"id": f"q{n}", "question": q["question"], "answerable": q["answerable"]}
            if q["answerable"]:
                row["evidence"] = row["answer"] = q["answer_contains"]
            sink.write(json.dumps(row) + "\n")
    print(f"{len(questions)} questions written to {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=("check", "show", "sample"))
    ap.add_argument("target", type=Path)
    ap.add_argument("--docs", type=Path, default=None, help="the manual's html folder")
    args = ap.parse_args()
    if args.command == "sample":
        write_sample_set(args.target)
        return
    docs = args.docs or default_docs()
    if args.command == "show":
        for n, text in enumerate(blocks(docs / args.target)):
            print(f"[{n}] {text}\n")
        return
    items = load(args.target)
    found = problems(items, docs)
    for line in found:
        print(line)
    count = Counter((i["half"], i.get("answerable", True)) for i in items if "half" in i)
    print(
        f"{len(items)} questions: dev {count['dev', True]} answerable + "
        f"{count['dev', False]} not, test {count['test', True]} + {count['test', False]}; "
        f"{len(found)} problems"
    )
    raise SystemExit(1 if found else 0)


if __name__ == "__main__":
    main()
