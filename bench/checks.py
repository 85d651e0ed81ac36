"""How honest the answer checks are: of the answers the validators pass, how many are right
(precision); of the right answers, how many they pass (recall). Measured on a real question
set with gold answers, one attempt at a time, so every answer the reader writes is judged.

    python bench/checks.py --home DIR [--half dev] [--every 1] [--mode generative]
        [--mode extractive] [--work DIR] [--write]

For each question of the half and each answer mode, one attempt (`--max-attempts 1`) of the
answer loop runs in this process with the default reader and context; each attempt is kept
(answer, verdicts, the sources shown, the reply's mean token log-probability) in --work as
JSON lines, so an interrupted run resumes and the rules can be studied afterwards. The
report counts, per verdict and for all of them together, the right and wrong answers each
lets through.

--home is a docqa home holding the question set's documents (bench/retrieval_quality.py
makes one for bench/data/postgres15.jsonl).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402
from docqa.adapters.llama_runtime import cpu_info  # noqa: E402

QUESTIONS = ROOT / "bench" / "data" / "postgres15.jsonl"
VERDICTS = ("citations", "grounded", "answerable", "answers")


def collect(args, items, out: Path) -> None:
    """Ask each question once per mode; append one JSON line per attempt to `out`."""
    from docqa import service
    from docqa.components import Components
    from docqa.config import load_settings
    from docqa.flows.ask import AskOptions
    from docqa.flows.evaluate import normal

    done = set()
    if out.exists():
        done = {(r["id"], r["mode"]) for r in map(json.loads, out.read_text().splitlines())}
    settings = load_settings(home=args.home)
    comps = Components(settings)
    fills: list = []
    llm = comps.llm
    inner = llm.fill

    def recording(*a, **kw):  # the reply's log-probability is the model's own confidence
        fill = inner(*a, **kw)
        fills.append(fill)
        return fill

    llm.fill = recording
    with out.open("a") as sink:
        for mode in args.mode:
            options = AskOptions(k=5, mode=mode, log=False, max_attempts=1, template=args.template)
            for item in items:
                key = str(item.extra.get("id"))
                if (key, mode) in done:
                    continue
                fills.clear()
                answer = service.ask(comps, item.question, options)
                a = answer.attempts[0]
                reply = [f for f in fills if f.slot.name == "reply"] or fills[-1:]
                f = reply[-1] if reply else None
                right = bool(item.answers) and any(
                    normal(g) in normal(a.answer) for g in item.answers
                )
                row = {
                    "id": key,
                    "mode": mode,
                    "question": item.question,
                    "gold_answerable": item.answerable,
                    "gold": list(item.answers),
                    "answer": a.answer,
                    "answerable": a.answerable,
                    "right": right and a.answerable,
                    "passed": a.passed,
                    "status": answer.status,
                    "verdicts": {v.name: [v.ok, v.reason] for v in a.verdicts},
                    "support": [
                        [s.text, s.supported, s.how, round(s.score, 4), s.source, s.nearest]
                        for s in a.grounding.sentences
                    ],
                    "shown": [[h.path, h.heading, h.text] for h in a.hits],
                    "citations": list(a.citations),
                    "logprob": None if f is None else f.logprob,
                    "reply_tokens": None if f is None else f.completion_tokens,
                    "seconds": round(a.seconds, 2),
                }
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                sink.flush()
                print(f"{mode} {key} right={row['right']} passed={a.passed} {a.answer[:70]!r}")


def report(rows: list[dict]) -> list[str]:
    """Per mode: of the answerable questions, what each verdict (and all of them) passes."""
    lines = [
        "| mode | answers (answerable questions) | right | passed | passed and right | "
        "precision | recall | unanswerable passed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode in dict.fromkeys(r["mode"] for r in rows):
        mine = [r for r in rows if r["mode"] == mode]
        asked = [r for r in mine if r["gold_answerable"]]
        right = sum(r["right"] for r in asked)
        passed = [r for r in asked if r["passed"]]
        good = sum(r["right"] for r in passed)
        trap = [r for r in mine if not r["gold_answerable"]]
        lines.append(
            f"| {mode} | {len(asked)} | {right} | {len(passed)} | {good} | "
            f"{good / len(passed) if passed else 0:.2f} | {good / right if right else 0:.2f} | "
            f"{sum(r['passed'] for r in trap)}/{len(trap)} |"
        )
    lines += [
        "",
        "What each verdict lets through on its own (answerable questions, answers the model "
        "marked answerable):",
        "",
        "| mode | verdict | passes | of them right | rejects right answers |",
        "|---|---|---:|---:|---:|",
    ]
    for mode in dict.fromkeys(r["mode"] for r in rows):
        asked = [r for r in rows if r["mode"] == mode and r["gold_answerable"] and r["answerable"]]
        for name in VERDICTS:
            ok = [r for r in asked if r["verdicts"].get(name, [True])[0]]
            lines.append(
                f"| {mode} | {name} | {len(ok)} | {sum(r['right'] for r in ok)} | "
                f"{sum(r['right'] for r in asked) - sum(r['right'] for r in ok)} |"
            )
    return lines + ["", *findings(rows)]


def findings(rows: list[dict]) -> list[str]:
    """What the kept answers say beyond the verdicts: whether the reader was shown the gold
    answer, whether the source sentences supporting its written answer hold it (what
    `--mode extractive` answers with), and what the other mode's answer did on the questions
    whose generative answer was rejected (what a fallback to it would have given)."""
    from docqa.flows.evaluate import normal

    def holds(r: dict, text: str) -> bool:
        return any(normal(g) in normal(text) for g in r["gold"])

    gen = {r["id"]: r for r in rows if r["mode"] == "generative"}
    asked = [r for r in gen.values() if r["gold_answerable"]]
    if not asked:
        return []
    shown = sum(holds(r, " ".join(t for _, _, t in r["shown"])) for r in asked)
    behind = sum(
        r["answerable"] and holds(r, " ".join(dict.fromkeys(s[5] for s in r["support"] if s[1])))
        for r in asked
    )
    lines = [
        f"Generative, answerable questions: the gold answer was in the text the reader was "
        f"shown for {shown} of {len(asked)}; the source sentences supporting the written "
        f"answer held it for {behind}, the written answer for {sum(r['right'] for r in asked)}.",
    ]
    lines += key_term_findings(rows)
    other = {r["id"]: r for r in rows if r["mode"] == "extractive"}
    rejected = [r for r in gen.values() if not r["passed"] and r["id"] in other]
    if rejected:
        fell = [other[r["id"]] for r in rejected]
        ok = [x for x in fell if x["gold_answerable"]]
        trap = [x for x in fell if not x["gold_answerable"]]
        lines.append(
            f"On the {len(rejected)} questions whose generative answer was rejected, the "
            f"extractive answer passed for {sum(x['passed'] for x in ok)} of {len(ok)} "
            f"answerable ones ({sum(x['passed'] and x['right'] for x in ok)} rightly) and for "
            f"{sum(x['passed'] for x in trap)} of the {len(trap)} unanswerable ones."
        )
    return lines


def key_term_findings(rows: list[dict]) -> list[str]:
    """What a key-term rule (docqa.flows.keyterms) would reject among the answers the other
    checks pass, right against wrong, two ways: each key term must be in the text shown, or
    in the source sentences the answer's sentences rest on. The first is part of
    groundedness since it was measured here, so on today's checks its row counts nothing."""
    from docqa.flows.groundedness import missing_terms

    lines = [
        "",
        "Key terms (numbers, identifiers, options, keywords) of the answers the checks pass "
        "and that no source holds:",
        "",
        "| mode | key terms must be in | right answers rejected | wrong answers rejected "
        "| unanswerable passed, rejected |",
        "|---|---|---:|---:|---:|",
    ]
    sources = {
        "the text shown": lambda r: " ".join(t for _, _, t in r["shown"]),
        "the supporting sentences": lambda r: " ".join(s[5] or "" for s in r["support"] if s[1]),
    }
    for mode in dict.fromkeys(r["mode"] for r in rows):
        passed = [r for r in rows if r["mode"] == mode and r["passed"] and r["answerable"]]
        for where, text in sources.items():
            out = [r for r in passed if missing_terms(r["answer"], text(r))]
            asked = [r for r in out if r["gold_answerable"] and r["gold"]]
            lines.append(
                f"| {mode} | {where} | {sum(r['right'] for r in asked)} "
                f"| {sum(not r['right'] for r in asked)} "
                f"| {sum(not r['gold_answerable'] for r in out)}"
                f"/{sum(not r['gold_answerable'] for r in passed)} |"
            )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--questions", type=Path, default=QUESTIONS)
    ap.add_argument("--half", default="dev")
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--mode", action="append", choices=["generative", "extractive"])
    ap.add_argument("--template", help="the ask template (default: the configured one)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/docqa-checks"))
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    args.mode = args.mode or ["generative", "extractive"]
    from docqa.flows.evaluate import load_items

    items = load_items(args.questions, half=args.half)
    items = [i for i in items if i.answerable][:: args.every] + [
        i for i in items if not i.answerable
    ][:: args.every]
    args.work.mkdir(parents=True, exist_ok=True)
    named = f"-{Path(args.template).stem}" if args.template else ""
    out = args.work / f"{args.half}-every{args.every}{named}.jsonl"
    if not args.report_only:
        collect(args, items, out)
    rows = [r for r in map(json.loads, out.read_text().splitlines()) if r["mode"] in args.mode]
    cpu = cpu_info()
    lines = [
        "The home holds the PostgreSQL 15 manual as bench/retrieval_quality.py ingests it.",
        "",
        f"Questions: {args.questions.relative_to(ROOT)}, half {args.half}, every {args.every}; "
        f"one attempt per question and mode; default reader and context"
        f"{'; template ' + args.template if args.template else ''}. CPU: {cpu.model}, "
        f"{os.cpu_count()} cores ({' '.join(cpu.features)}).",
        "",
        *report(rows),
    ]
    print("\n".join(lines))
    if args.write:
        write_section("bench/checks.py", "Answer checks on a real question set", "\n".join(lines))


if __name__ == "__main__":
    main()
