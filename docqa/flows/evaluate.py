"""`docqa eval`: how well retrieval and answers do on a question set with gold answers.

A question set is JSON lines: `question`; optional `evidence` (text a retrieved chunk must
hold, whitespace and case aside), `answer` (a string or a list: a right answer holds one,
case-insensitive), `answerable` (false: the documents do not answer it), and any other fields
(`id`, `half`, ...), kept and shown. Search mode ranks each question's evidence among the
retrieved chunks (hit@1/5/10, MRR); ask mode runs the whole answer loop and counts right
answers, refusals, false refusals and answers the checks called grounded that were wrong.
The flow takes a search or ask function, so it never loads a model itself.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from docqa.errors import DocqaError, UsageError

REFUSED = ("unanswerable", "withheld")
DEPTH = 10  # chunks retrieved per question in search mode: hit@10 needs ten


@dataclass(frozen=True)
class EvalItem:
    question: str
    evidence: str | None = None
    answers: tuple[str, ...] = ()
    answerable: bool = True
    extra: dict = field(default_factory=dict)  # id, half, file, ...

    @property
    def label(self) -> str:
        return str(self.extra.get("id", "")) or self.question[:60]


def normal(text: str) -> str:
    """Whitespace collapsed, case folded and digits ungrouped ("16,383" is "16383"): how
    evidence and answers are matched."""
    return _GROUPED.sub("", " ".join(text.split()).casefold())


_GROUPED = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")


def load_items(path: Path, *, half: str | None = None) -> list[EvalItem]:
    """The question set in `path` (JSON lines), only `half`'s questions when given; a bad
    line is a usage error naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the question set {path}: {exc}") from exc
    items = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{path}:{n}: not a JSON object: {exc}") from exc
        items.append(_item(raw, f"{path}:{n}"))
    if half is not None:
        items = [i for i in items if i.extra.get("half") == half]
    if not items:
        which = f" in half {half!r}" if half else ""
        raise UsageError(f"no questions{which} in {path}")
    return items


def _item(raw, where: str) -> EvalItem:
    if not isinstance(raw, dict) or not isinstance(raw.get("question"), str):
        raise UsageError(f'{where}: each line needs a "question" string')
    question = raw["question"].strip()
    if not question:
        raise UsageError(f"{where}: the question is empty")
    evidence = raw.get("evidence")
    if evidence is not None and (not isinstance(evidence, str) or not evidence.strip()):
        raise UsageError(f'{where}: "evidence" must be non-empty text')
    answer = raw.get("answer")
    answers = [answer] if isinstance(answer, str) else answer if answer is not None else []
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise UsageError(f'{where}: "answer" must be a string or a list of strings')
    answerable = raw.get("answerable", True)
    if not isinstance(answerable, bool):
        raise UsageError(f'{where}: "answerable" must be true or false')
    if not answerable and (evidence or answers):
        raise UsageError(f"{where}: a question marked answerable: false has no evidence or answer")
    known = {"question", "evidence", "answer", "answerable"}
    return EvalItem(
        question,
        evidence,
        tuple(answers),
        answerable,
        {k: v for k, v in raw.items() if k not in known},
    )


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    import numpy as np

    return round(float(np.percentile(values, q)), 4)


def _latency(seconds: list[float]) -> dict:
    return {"p50": _percentile(seconds, 50), "p95": _percentile(seconds, 95)}


def evaluate_search(items: list[EvalItem], search: Callable[[str, int], list[dict]]) -> dict:
    """Rank each question's evidence among `search(question, DEPTH)`'s hits (dicts with
    `text` and `path`, best first)."""
    rows, seconds = [], []
    for item in items:
        t0 = time.perf_counter()
        hits = search(item.question, DEPTH)
        seconds.append(time.perf_counter() - t0)
        rank = None
        if item.evidence is not None:
            want = normal(item.evidence)
            rank = next((n for n, h in enumerate(hits, 1) if want in normal(h["text"])), None)
        rows.append(
            {
                **item.extra,
                "question": item.question,
                "has_evidence": item.evidence is not None,
                "rank": rank,
                "top": [h["path"] for h in hits[:3]],
                "seconds": round(seconds[-1], 4),
            }
        )
    scored = [r for r in rows if r["has_evidence"]]
    n = len(scored)

    def hit_at(k: int) -> float | None:
        return (
            round(sum(r["rank"] is not None and r["rank"] <= k for r in scored) / n, 4)
            if n
            else None
        )

    mrr = round(sum(1 / r["rank"] for r in scored if r["rank"]) / n, 4) if n else None
    return {
        "mode": "search",
        "n": len(rows),
        "with_evidence": n,
        "hit@1": hit_at(1),
        "hit@5": hit_at(5),
        "hit@10": hit_at(10),
        "mrr": mrr,
        "latency": _latency(seconds),
        "misses": [r for r in scored if r["rank"] is None or r["rank"] > 5],
        "questions": rows,
    }


def evaluate_ask(items: list[EvalItem], ask: Callable[[str], dict]) -> dict:
    """Judge each answer of `ask(question)` (the `docqa ask --json` object)."""
    rows, seconds = [], []
    for item in items:
        t0 = time.perf_counter()
        try:
            answer, error = ask(item.question), None
        except DocqaError as exc:  # one failed question is counted; the others go on
            answer, error = {"answer": "", "status": "error", "citations": []}, str(exc)
        seconds.append(time.perf_counter() - t0)
        status = answer.get("status")
        refused = status in REFUSED
        text = normal(answer.get("answer") or "")
        holds = bool(item.answers) and any(normal(a) in text for a in item.answers)
        drafts = [normal(a.get("answer") or "") for a in answer.get("attempts") or []]
        drafted = bool(item.answers) and any(
            normal(a) in d for d in drafts for a in item.answers
        )  # some attempt's answer held it, whatever the checks said
        cited = [c.get("text") or "" for c in answer.get("citations", [])]
        rows.append(
            {
                **item.extra,
                "question": item.question,
                "answerable": item.answerable,
                "status": status,
                "answer": answer.get("answer"),
                "expected": list(item.answers),
                "correct": (holds and not refused) if item.answerable else refused,
                "drafted": drafted,
                "refused": refused,
                "cites_evidence": (
                    any(normal(item.evidence) in normal(c) for c in cited)
                    if item.evidence
                    else None
                ),
                "error": error,
                "seconds": round(seconds[-1], 4),
                "first_token": (answer.get("timings") or {}).get("first_token"),
            }
        )
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    judged = [r for r in answerable if r["expected"]]
    wrong_grounded = [
        r for r in rows
        if r["status"] == "grounded" and not r["correct"] and (r["expected"] or not r["answerable"])
    ]  # fmt: skip

    def share(part: list, whole: list) -> float | None:
        return round(len(part) / len(whole), 4) if whole else None

    return {
        "mode": "ask",
        "n": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "correct": sum(r["correct"] for r in judged),
        "accuracy": share([r for r in judged if r["correct"]], judged),
        "refused": sum(r["refused"] for r in rows),
        "false_refusals": sum(r["refused"] for r in answerable),
        "correct_refusals": sum(r["refused"] for r in unanswerable),
        "grounded_but_wrong": len(wrong_grounded),
        "errors": sum(r["status"] == "error" for r in rows),
        "latency": _latency(seconds),
        "misses": [r for r in rows if not r["correct"]],
        "questions": rows,
    }
