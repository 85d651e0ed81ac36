"""The JSON shapes of the CLI contract, built from the records: what `--json` prints for
ingest, search, ask, chat, trace, feedback, docs, users, run and doctor, and what the journal
stores for an attempt and its slots.

Field names here are a stable interface that users' scripts read: extend them, never rename.
Not here: `monitor report` and `eval` compute statistics rather than records, and their JSON is
built where they are computed (docqa.monitor.report, docqa.flows.evaluate); one-key envelopes
(`{"removed": ...}`, `{"interactions": [...]}`, chat's `{"sources": ...}` and a failed
question's `{"question", "error"}`) are written where they are printed, in docqa.cli.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docqa.flows.feedback import Rating
    from docqa.journal import Trace
    from docqa.records import (
        Answer,
        Attempt,
        DocumentInfo,
        Grounding,
        Hit,
        IngestReport,
        Profile,
        SearchResult,
    )


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _round(seconds: float) -> float:
    return round(seconds, 4)


# -- ingest ----------------------------------------------------------------------------------
def ingest_json(report: IngestReport) -> dict:
    return {
        "files_seen": report.files_seen,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "removed": report.removed,
        "skipped": report.skipped,
        "failed": [{"path": f.path, "reason": f.reason} for f in report.failed],
        "chunks_added": report.chunks_added,
        "chunks_total": report.chunks_total,
        "seconds": _round(report.seconds),
    }


def reindex_json(report) -> dict:
    return {
        "embedder": report.embedder,
        "sentence_embedder": report.sentence_embedder,
        "previous": report.previous,
        "changed": report.changed,
        "chunks": report.chunks,
        "embedded": report.embedded,
        "sentences": report.sentences,
        "seconds": _round(report.seconds),
    }


def query_embedder_json(query) -> dict:
    """What `ask` will embed questions with (an ONNX export, or the reason there is none),
    for the ingest report."""
    if isinstance(query, str):
        return {"backend": "torch", "note": query}
    note = (
        f"ONNX export made in {query.seconds:.1f} s" if query.made else "ONNX export present"
    ) + f" (agrees with the model to cosine {query.min_cosine:.6f})"
    return {"backend": "onnx", "path": str(query.path), "note": note}


# -- search ----------------------------------------------------------------------------------
def hit_json(hit: Hit) -> dict:
    return {
        "chunk_id": hit.chunk_id,
        "path": hit.path,
        "lines": list(hit.lines) if hit.lines else None,
        "page": hit.page,
        "heading": hit.heading,
        "score": hit.score,
        "dense_score": hit.dense_score,
        "lexical_rank": hit.lexical_rank,
        "sentence_score": hit.sentence_score,
        "lexical_score": hit.lexical_score,
        "document_score": hit.document_score,
        "sentence": hit.text[slice(*hit.sentence)] if hit.sentence else None,
        "text": hit.text,
        "source_text": hit.source,
    }


def search_json(result: SearchResult) -> dict:
    return {
        "question": result.question,
        "hits": [hit_json(h) for h in result.hits],
        "timings": {k: _round(v) for k, v in result.timings.items()},
    }


# -- ask -------------------------------------------------------------------------------------
def answer_json(answer: Answer) -> dict:
    return {
        "id": answer.id,
        "question": answer.question,
        "answer": answer.answer,
        "answerable": answer.answerable,
        "status": answer.status,
        "citations": [{"n": c.n, **hit_json(c.hit)} for c in answer.citations],
        "grounding": None if answer.grounding is None else grounding_json(answer.grounding),
        "attempts": [attempt_json(a) for a in answer.attempts],
        "session": answer.session,
        "turn": answer.turn,
        "flags": answer.flags,
        "timings": {k: _round(v) for k, v in answer.timings.items()},
        "tokens": dict(answer.tokens),
        "model": answer.model,
        "template": answer.template,
    }


def grounding_json(g: Grounding) -> dict:
    """The JSON shape of a grounding (answers' `grounding` field, trace and steps)."""
    return {
        "status": g.status,
        "score": round(g.score, 4),
        "sentences": [
            {
                "text": s.text,
                "supported": s.supported,
                "how": s.how,
                "reason": s.reason(),
                "score": s.score,
                "threshold": s.threshold,
                "p": s.p,
                "source": s.source,
                "nearest": s.nearest,
                "missing": list(s.missing),
            }
            for s in g.sentences
        ],
    }


def attempt_json(a: Attempt) -> dict:
    """The JSON shape of one attempt (answers' `attempts` list, and its `validate` step)."""
    return {
        "attempt": a.n,
        "strategy": a.strategy,
        "template": a.template,
        "queries": list(a.queries),
        "answer": a.answer,
        "answerable": a.answerable,
        "citations": list(a.citations),
        "cited": [{"n": n, "chunk_id": h.chunk_id, "path": h.path} for n, h in _numbered(a)],
        "passed": a.passed,
        "reason": a.reason,
        "verdicts": {v.name: {"ok": v.ok, "reason": v.reason} for v in a.verdicts},
        "grounding": grounding_json(a.grounding),
        "seconds": round(a.seconds, 4),
        "tokens": dict(a.tokens),
    }


def _numbered(a: Attempt):
    return [(n, a.hits[n - 1]) for n in a.citations if 1 <= n <= len(a.hits)]


def fills_json(result) -> list[dict]:
    """Each filled slot of a template program's run: its constraint, value and figures (the
    `fills` of `run --json`, and the `slots` of trace's generate and rewrite steps)."""
    return [
        {
            "name": f.slot.name,
            "constraint": f.slot.describe(),
            "value": result.slots.get(f.slot.name),
            "prompt_tokens": f.prompt_tokens,
            "cached_tokens": f.cached_tokens,
            "completion_tokens": f.completion_tokens,
            "finish": f.finish,
            "healed": f.healed,
            "logprob": None if f.logprob is None else round(f.logprob, 4),
            "seconds": round(f.seconds, 4),
            "first_token_seconds": (
                None if f.first_token_seconds is None else round(f.first_token_seconds, 4)
            ),
        }
        for f in result.fills
    ]


# -- trace -----------------------------------------------------------------------------------
def trace_json(trace: Trace) -> dict:
    """The interaction's row, every step (docqa.journal: each kind's fields) and the
    verdicts people gave it, newest first."""
    return {
        "interaction": trace.interaction,
        "steps": [s.to_json() for s in trace.steps],
        # each {interaction_id, user, verdict, note, created_at}, as the store holds it
        "feedback": [dict(f) for f in trace.feedback],
    }


# -- feedback --------------------------------------------------------------------------------
def rating_json(rating: Rating) -> dict:
    """What `feedback --json` prints: the verdict recorded (the fields of trace's
    `feedback` items), and the same rater's earlier one it replaced, if any."""

    def one(r: Rating) -> dict:
        return {
            "interaction_id": r.interaction_id,
            "user": r.user,
            "verdict": r.verdict,
            "note": r.note,
            "created_at": r.created_at,
        }

    return {**one(rating), "replaced": None if rating.replaced is None else one(rating.replaced)}


# -- users and docs --------------------------------------------------------------------------
def profile_json(profile: Profile) -> dict:
    return {"name": profile.name, "groups": list(profile.groups), "features": profile.features}


def doc_json(doc: DocumentInfo) -> dict:
    return {
        "path": doc.path,
        "format": doc.format,
        "title": doc.title,
        "chunks": doc.chunks,
        "size": doc.size,
        "sha256": doc.sha256,
        "ingested_at": doc.ingested_at,
        "groups": list(doc.groups),
    }


# -- run -------------------------------------------------------------------------------------
def program_json(result, model: str) -> dict:
    return {
        "text": result.text,
        "slots": result.slots,
        "tokens": result.tokens,
        "timings": {k: _round(v) for k, v in result.timings.items()},
        "model": model,
        "fills": fills_json(result),
    }


def beam_json(beam) -> dict:
    return {"score": round(beam.logprob, 4), "slots": beam.result.slots, "text": beam.result.text}


# -- doctor ----------------------------------------------------------------------------------
def doctor_json(checks, runtime: dict) -> dict:
    """Every check (docqa.flows.doctor.Check) with its problems and repairs, and the model
    runtime."""
    return {
        "ok": all(c.ok for c in checks),
        "checks": [
            {"name": c.name, "ok": c.ok, "problems": c.problems, "repaired": c.repaired}
            for c in checks
        ],
        "runtime": runtime,
    }


def event_json(event) -> dict:
    """One line of `ask --stream` before the final answer: `attempt`, `token` or `verdict`
    (docqa.flows.events); the last line is the answer_json object with "event": "final"."""
    from docqa.flows.events import AnswerText, AttemptBegun

    if isinstance(event, AttemptBegun):
        return {"event": "attempt", "attempt": event.n, "strategy": event.strategy}
    if isinstance(event, AnswerText):
        return {"event": "token", "attempt": event.n, "text": event.text}
    return {
        "event": "verdict",
        "attempt": event.n,
        "passed": event.passed,
        "answer": event.answer,
        "failed": [{"validator": name, "reason": why} for name, why in event.failed],
    }


def final_json(answer: Answer) -> dict:
    """The last line of `ask --stream`: the `--json` object, marked as the final event."""
    return {"event": "final", **answer_json(answer)}
