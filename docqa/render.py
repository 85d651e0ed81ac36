"""All output: rich rendering for people, and the JSON shapes of the CLI contract.

JSON field names here are a stable interface; extend them, never rename.
"""

from __future__ import annotations

import json
import os
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from docqa.records import Answer, DocumentInfo, Hit, IngestReport, Profile, SearchResult


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def shown_path(path: str) -> str:
    """A path for people: relative to the working directory when it is inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


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


def print_ingest(console: Console, err: Console, report: IngestReport) -> None:
    parts = [
        f"{report.files_seen} files seen",
        f"{report.added} added",
        f"{report.updated} updated",
        f"{report.unchanged} unchanged",
    ]
    if report.removed:
        parts.append(f"{report.removed} removed")
    if report.skipped:
        parts.append(f"{report.skipped} skipped (not a supported type)")
    if report.failed:
        parts.append(f"[red]{len(report.failed)} failed[/red]")
    console.print(", ".join(parts))
    console.print(
        f"{report.chunks_added} chunks added, {report.chunks_total} in the store, "
        f"{report.seconds:.1f} s"
    )
    for f in report.failed:
        err.print(f"[red]failed[/red] {escape(shown_path(f.path))}: {escape(f.reason)}")


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
        "text": hit.text,
    }


def search_json(result: SearchResult) -> dict:
    return {
        "question": result.question,
        "hits": [hit_json(h) for h in result.hits],
        "timings": {k: _round(v) for k, v in result.timings.items()},
    }


def snippet(text: str, width: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def _source_line(n: int, hit: Hit) -> str:
    where = f":{hit.where}" if hit.where else ""
    heading = f" [dim]§ {escape(hit.heading)}[/dim]" if hit.heading else ""
    path = escape(shown_path(hit.path))
    return f"[bold cyan][{n}][/bold cyan] [green]{path}[/green]{where}{heading}"


def print_search(console: Console, result: SearchResult) -> None:
    if not result.hits:
        console.print("no matching chunks")
        return
    for n, hit in enumerate(result.hits, start=1):
        console.print(_source_line(n, hit) + f"  [dim]score {hit.score:.4f}[/dim]", soft_wrap=True)
        console.print(Padding(escape(snippet(hit.text)), (0, 0, 0, 4)), highlight=False)


# -- ask -------------------------------------------------------------------------------------
def answer_json(answer: Answer) -> dict:
    from docqa.flows.decide import attempt_record, grounding_record

    return {
        "id": answer.id,
        "question": answer.question,
        "answer": answer.answer,
        "answerable": answer.answerable,
        "status": answer.status,
        "citations": [{"n": c.n, **hit_json(c.hit)} for c in answer.citations],
        "grounding": None if answer.grounding is None else grounding_record(answer.grounding),
        "attempts": [attempt_record(a) for a in answer.attempts],
        "session": answer.session,
        "turn": answer.turn,
        "timings": {k: _round(v) for k, v in answer.timings.items()},
        "tokens": dict(answer.tokens),
        "model": answer.model,
        "template": answer.template,
    }


_STATUS = {
    "grounded": "[green]grounded in the cited sources[/green]",
    "partially_grounded": "[yellow]partially grounded: flagged sentences are not supported by "
    "the sources[/yellow]",
    "unanswerable": "[yellow]not found in the documents[/yellow]",
}


def print_answer(console: Console, answer: Answer) -> None:
    unsupported = set()
    if answer.grounding is not None:
        unsupported = {s.text for s in answer.grounding.sentences if not s.supported}
    if unsupported and answer.grounding is not None:
        parts = []
        for s in answer.grounding.sentences:
            text = escape(s.text)
            parts.append(f"[bold yellow]{text} [?][/bold yellow]" if not s.supported else text)
        console.print("[bold]" + " ".join(parts) + "[/bold]", highlight=False)
    else:
        style = "bold" if answer.answerable else "bold yellow"
        console.print(f"[{style}]{escape(answer.answer)}[/{style}]", highlight=False)
    line = _STATUS.get(answer.status, escape(answer.status))
    tried = len(answer.attempts)
    if tried > 1:
        line += f" [dim]· after {tried} attempts ({', '.join(a.strategy for a in answer.attempts)})"
        line += "[/dim]"
    console.print(line, highlight=False)
    if answer.grounding is not None:
        for s in answer.grounding.sentences:
            if not s.supported:
                console.print(
                    f"  [yellow][?][/yellow] {escape(snippet(s.text, 80))}: "
                    f"[dim]{escape(s.reason())}[/dim]",
                    highlight=False,
                    soft_wrap=True,
                )
    if answer.citations:
        console.print()
        print_sources(console, [(c.n, c.hit) for c in answer.citations])
    t = answer.timings
    footer = (
        f"{answer.model} · {answer.tokens.get('prompt', 0)} prompt + "
        f"{answer.tokens.get('completion', 0)} answer tokens · {t.get('total', 0):.1f} s"
    )
    if answer.session is not None:
        footer += f" · session {answer.session} turn {answer.turn}"
    if answer.id is not None:
        footer += f" · id {answer.id}"
    console.print(f"\n[dim]{escape(footer)}[/dim]", soft_wrap=True)


def print_sources(console: Console, sources: list[tuple[int, Hit]], chars: int = 200) -> None:
    for n, hit in sources:
        console.print(_source_line(n, hit), soft_wrap=True)
        console.print(
            Padding(f"[dim]{escape(snippet(hit.text, chars))}[/dim]", (0, 0, 0, 4)),
            highlight=False,
        )


# -- users ---------------------------------------------------------------------------------
def profile_json(profile: Profile) -> dict:
    return {"name": profile.name, "groups": list(profile.groups), "features": profile.features}


def print_profile(console: Console, profile: Profile) -> None:
    groups = ", ".join(profile.groups) or "none: public documents only"
    console.print(
        f"[bold]{escape(profile.name or 'anonymous')}[/bold]  [dim]groups:[/dim] {escape(groups)}",
        highlight=False,
        soft_wrap=True,
    )
    for key, value in sorted(profile.features.items()):
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        console.print(f"  {escape(key)}: {escape(shown)}", highlight=False, soft_wrap=True)


# -- docs ------------------------------------------------------------------------------------
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


def print_docs(console: Console, docs: list[DocumentInfo]) -> None:
    if not docs:
        console.print("no documents ingested yet")
        return
    table = Table(box=None, header_style="bold")
    table.add_column("path", overflow="fold")
    table.add_column("format")
    table.add_column("chunks", justify="right")
    table.add_column("title", overflow="fold")
    table.add_column("groups", overflow="fold")
    for d in docs:
        table.add_row(
            escape(shown_path(d.path)),
            d.format,
            str(d.chunks),
            escape(d.title or ""),
            escape(", ".join(d.groups)) or "[dim]public[/dim]",
        )
    console.print(table)
    total = sum(d.chunks for d in docs)
    console.print(f"[dim]{len(docs)} documents, {total} chunks[/dim]")


# -- run -------------------------------------------------------------------------------------
def program_json(result, model: str) -> dict:
    return {
        "text": result.text,
        "slots": result.slots,
        "tokens": result.tokens,
        "timings": {k: _round(v) for k, v in result.timings.items()},
        "model": model,
        "fills": result.slot_records(),
    }


def print_program(console: Console, result, model: str) -> None:
    console.print(escape(result.text), highlight=False, soft_wrap=True)
    t = result.tokens
    console.print(
        f"\n[dim]{escape(model)} · {len(result.fills)} slots · {t['prompt']} prompt tokens "
        f"({t['cached']} cached) + {t['completion']} generated · "
        f"{result.timings['total']:.1f} s[/dim]"
    )


def beam_json(beam) -> dict:
    return {"score": round(beam.logprob, 4), "slots": beam.result.slots, "text": beam.result.text}


def print_beams(console: Console, beams) -> None:
    table = Table(box=None, header_style="bold", title="beams")
    table.add_column("#", justify="right")
    table.add_column("log-prob", justify="right")
    table.add_column("slots", overflow="fold")
    for i, b in enumerate(beams, start=1):
        table.add_row(str(i), f"{b.logprob:.3f}", escape(dumps(b.result.slots)))
    console.print(table)
