"""Output for people: answers, hits, traces, logs and reports rendered with rich.

What scripts read (`--json`) is built in docqa.contract; nothing here is parsed.
"""

from __future__ import annotations

import json
import os

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from docqa import journal
from docqa.journal import Trace
from docqa.records import Answer, DocumentInfo, Hit, IngestReport, Profile, SearchResult


def shown_path(path: str) -> str:
    """A path for people: relative to the working directory when it is inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


# -- ingest ----------------------------------------------------------------------------------


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


def print_reindex(console: Console, report) -> None:
    if not report.changed:
        console.print(f"the store is already built with {escape(report.embedder)}: nothing to do")
        return
    kept = {
        "staged": "embedded again",
        "keep": "kept",
        "drop": "dropped (made by another model; `sentence_vectors` is off)",
    }[report.sentences]
    console.print(
        f"{report.chunks} chunks now embedded with {escape(report.embedder)} "
        f"(was {escape(report.previous or 'none')}); {report.embedded} embedded in this run, "
        f"{report.seconds:.1f} s; sentence vectors {kept}"
    )


# -- search ----------------------------------------------------------------------------------


def snippet(text: str, width: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1].rstrip() + "…"


def _source_line(n: int, hit: Hit) -> str:
    where = f":{hit.where}" if hit.where else ""
    heading = f" [dim]§ {escape(hit.heading)}[/dim]" if hit.heading else ""
    path = escape(shown_path(hit.path))
    return f"[bold cyan][{n}][/bold cyan] [green]{path}[/green]{where}{heading}"


def focused_snippet(hit: Hit, width: int = 240) -> Text:
    """The hit's text around its best sentence (in bold), about `width` characters; the
    chunk's start when it has no sentence vectors."""
    if not hit.sentence:
        return Text(snippet(hit.text, width))
    a, b = hit.sentence
    before, sentence, after = (
        " ".join(part.split()) for part in (hit.text[:a], hit.text[a:b], hit.text[b:])
    )
    if len(sentence) >= width:
        return Text(snippet(sentence, width), style="bold")
    room = width - len(sentence)
    if len(before) > room // 3:  # cut at a word boundary, marked
        tail = before[len(before) - room // 3 + 1 :]
        before = "…" + tail.split(" ", 1)[-1] if room // 3 > 1 else ""
    room -= len(before)
    if len(after) > room:
        head = after[: max(room - 1, 0)]
        after = head.rsplit(" ", 1)[0] + "…" if room > 1 else ""
    out = Text(before + (" " if before else ""))
    out.append(sentence, style="bold")
    out.append((" " if after else "") + after)
    return out


def print_search(console: Console, result: SearchResult) -> None:
    if not result.hits:
        console.print("no matching chunks")
        return
    for n, hit in enumerate(result.hits, start=1):
        console.print(_source_line(n, hit) + f"  [dim]score {hit.score:.4f}[/dim]", soft_wrap=True)
        console.print(Padding(focused_snippet(hit), (0, 0, 0, 4), expand=False), highlight=False)


# -- ask -------------------------------------------------------------------------------------

_STATUS = {
    "grounded": "[green]grounded in the cited sources[/green]",
    "partially_grounded": "[yellow]partially grounded: flagged sentences are not supported by "
    "the sources[/yellow]",
    "unanswerable": "[yellow]not found in the documents[/yellow]",
    "withheld": "[red]withheld by --guard[/red]",
}

# a status in `log list` and `trace`: an interrupted ask's process died before it finished
_SHOWN = {"interrupted": "[red]interrupted[/red]", "error": "[red]error[/red]"}


def print_answer(console: Console, answer: Answer) -> None:
    if answer.grounding is not None and answer.grounding.unsupported():
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
    for reason in answer.flag_reasons:
        console.print(f"[red]⚠ flagged:[/red] {escape(reason)}", highlight=False, soft_wrap=True)
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
        shown = focused_snippet(hit, chars)
        shown.stylize("dim")
        console.print(Padding(shown, (0, 0, 0, 4), expand=False), highlight=False)


# -- users ---------------------------------------------------------------------------------


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


def _model_table(rows: list[dict], column: str, first_use: str, missing) -> Table:
    """One row per model: `*` on the selected one, its name (the default marked), size,
    licence and whether it is installed: `first_use` notes one not yet joined or unpacked,
    `missing(row)` says what an uninstalled one shows; --verify's sha256 verdict follows."""
    table = Table(box=None, header_style="bold")
    table.add_column("", width=1)
    table.add_column(column, no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("licence", no_wrap=True)
    table.add_column("installed", overflow="fold")
    for r in rows:
        if r["installed"]:
            state = "[green]yes[/green]" if r["joined"] else f"yes [dim]({first_use})[/dim]"
            if r.get("verified") is not None:
                state += ", sha256 " + (
                    "[green]ok[/green]" if r["verified"] else "[red]wrong[/red]"
                )
        else:
            state = missing(r)
        table.add_row(
            "*" if r["selected"] else "",
            escape(r["name"]) + (" [dim](default)[/dim]" if r["default"] else ""),
            f"{r['bytes'] / 1e6:,.0f} MB",
            escape(r["licence"]),
            state,
        )
    return table


def print_models(console: Console, rows: list[dict], folder) -> None:
    console.print(_model_table(rows, "name", "joined on first use", lambda r: "[dim]no[/dim]"))
    for r in rows:
        if not r["installed"]:
            console.print(f"[dim]{escape(r['name'])}: {escape(r['install'])}[/dim]")
    console.print(
        f"[dim]* the model `docqa ask` uses; pick another with --model NAME. "
        f"Models made of parts are joined into {escape(str(folder))}.[/dim]"
    )


def print_embedders(console: Console, rows: list[dict]) -> None:
    def missing(r: dict) -> str:
        return f"[dim]no: {escape(r['install'])}[/dim]"

    console.print()
    console.print(_model_table(rows, "embedder", "unpacked on first use", missing))
    console.print(
        "[dim]* the embedder of chunk vectors; sentences are embedded with minilm. Move a "
        "store to another with `docqa reindex --embedder NAME`.[/dim]"
    )


# -- run -------------------------------------------------------------------------------------


def print_program(console: Console, result, model: str) -> None:
    console.print(escape(result.text), highlight=False, soft_wrap=True)
    t = result.tokens
    console.print(
        f"\n[dim]{escape(model)} · {len(result.fills)} slots · {t['prompt']} prompt tokens "
        f"({_cached(t.get('cached'))}) + {t['completion']} generated · "
        f"{result.timings['total']:.1f} s[/dim]"
    )


def print_beams(console: Console, beams) -> None:
    table = Table(box=None, header_style="bold", title="beams")
    table.add_column("#", justify="right")
    table.add_column("log-prob", justify="right")
    table.add_column("slots", overflow="fold")
    for i, b in enumerate(beams, start=1):
        table.add_row(
            str(i), f"{b.logprob:.3f}", escape(json.dumps(b.result.slots, ensure_ascii=False))
        )
    console.print(table)


# -- trace and log ---------------------------------------------------------------------------
def print_trace(console: Console, trace: Trace) -> None:
    row = trace.interaction
    head = [f"interaction {row['id']}", str(row.get("created_at", ""))[:19].replace("T", " ")]
    head.append(f"user {row['user']}" if row.get("user") else "anonymous")
    if row.get("session"):
        head.append(f"session {row['session']} turn {row.get('turn')}")
    status = str(row.get("status"))
    shown = [escape(h) for h in head]
    shown += [_SHOWN.get(status, escape(status)), f"{row.get('seconds') or 0:.2f} s"]
    console.print("[bold]" + " · ".join(shown) + "[/bold]", soft_wrap=True)
    console.print(f"[bold]Q:[/bold] {escape(row['question'])}", highlight=False, soft_wrap=True)
    for step in trace.steps:
        attempt = getattr(step.data, "attempt", None)
        attempt = f" · attempt {attempt}" if attempt else ""
        seconds = f" · {step.seconds:.3f} s" if step.seconds else ""
        console.print(
            f"\n[bold cyan]── {step.stage}[/bold cyan]{attempt}{seconds}", highlight=False
        )
        show = _STEP_PRINTERS.get(type(step.data))
        if show is None:  # a kind of step this docqa does not know
            console.print(f"   {escape(json.dumps(step.data.to_json()))}", soft_wrap=True)
        else:
            show(console, step.data)
    if row.get("answer") is not None:
        console.print(f"\n[bold]A:[/bold] {escape(row['answer'])}", highlight=False)
    if trace.feedback:
        console.print("\n[bold cyan]── feedback[/bold cyan]", highlight=False)
        for f in trace.feedback:
            note = f" · {escape(f['note'])}" if f.get("note") else ""
            console.print(
                f"   {_VERDICT[f['verdict']]} · {escape(f['user'] or 'anonymous')} · "
                f"{_when(f['created_at'])}{note}",
                highlight=False,
                soft_wrap=True,
            )
    if row.get("error"):
        console.print(f"\n[red]error:[/red] {escape(row['error'])}")
    elif status == "interrupted":
        pid = f" (pid {row['owner_pid']})" if row.get("owner_pid") else ""
        console.print(
            f"\n[red]interrupted:[/red] the process answering it{pid} is gone; "
            "`docqa doctor --repair` records it",
            soft_wrap=True,
        )


def _features(console: Console, d: journal.Features) -> None:
    feats = ", ".join(f"{k}={v}" for k, v in sorted(d.features.items()))
    groups = ", ".join(d.groups) or "none"
    who = d.user or "anonymous"
    console.print(f"   {escape(who)} · groups: {escape(groups)} · {escape(feats)}")


def _embed(console: Console, d: journal.Embed) -> None:
    console.print(f"   {d.dimension}-dimensional question vector")


def _rewrite(console: Console, d: journal.Rewrite) -> None:
    console.print(f"   query: {escape(repr(d.query))}", highlight=False)


def _guard(console: Console, d: journal.Guard) -> None:
    o = d.flags.get("outlier") or {}
    verdict = (
        o.get("note")
        or f"score {o.get('score')} vs threshold {o.get('threshold')} of "
        f"{o.get('reference_n')} past questions"
    )
    mark = "[red]outlier[/red]" if o.get("flagged") else "not an outlier"
    toxic = (d.flags.get("toxic_question") or {}).get("words") or []
    console.print(f"   {mark} ({escape(str(verdict))})", highlight=False)
    console.print(
        f"   toxic question: {escape(', '.join(toxic)) if toxic else 'no'}", highlight=False
    )


def _retrieve(console: Console, d: journal.Retrieve) -> None:
    console.print(f"   queries: {escape(repr(d.queries))}", soft_wrap=True)
    table = Table(box=None, header_style="bold", padding=(0, 1, 0, 3))
    for col in ("#", "chunk", "score", "dense", "lexical", "source"):
        table.add_column(col, overflow="fold")
    for n, h in enumerate(d.hits, start=1):
        if h.available and h.source is not None:
            where = escape(f"{shown_path(h.source.path or '')}:{h.source.where or ''}")
        else:
            where = "[dim](not available to this viewer, or removed)[/dim]"
        dense = "" if h.dense_score is None else f"{h.dense_score:.3f}"
        table.add_row(
            str(n),
            str(h.chunk_id),
            f"{h.score or 0:.4f}",
            dense,
            str(h.lexical_rank or ""),
            where,
        )
    console.print(table)


def _prompt(console: Console, d: journal.Prompt) -> None:
    console.print(f"   template {escape(str(d.template))} · sha256 {d.sha256[:16]}")
    if d.text:  # the prompt's own lines, indented, none padded out to the widest
        for line in d.text.splitlines():
            console.print(Text("   " + line, style="dim"), soft_wrap=True)


def _generate(console: Console, d: journal.Generate) -> None:
    t = d.tokens
    console.print(
        f"   {t.get('prompt', 0)} prompt tokens ({_cached(t.get('cached', 0))}) + "
        f"{t.get('completion', 0)} generated"
    )
    for slot in d.slots:
        console.print(
            f"   slot {escape(slot['name'])}: {escape(json.dumps(slot['constraint']))}"
            f" · finish {slot.get('finish')} · healed {slot.get('healed')!r}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(f"     → {escape(json.dumps(slot.get('value')))}", soft_wrap=True)


def _validate(console: Console, d: journal.Validate) -> None:
    verdict = "[green]passed[/green]" if d.passed else "[red]rejected[/red]"
    console.print(f"   {escape(d.strategy)}: {verdict} · next: {d.next}", highlight=False)
    console.print(f"   answer: {escape(repr(d.answer))}", soft_wrap=True)
    for name, v in d.verdicts.items():
        mark = "[green]✓[/green]" if v["ok"] else "[red]✗[/red]"
        console.print(f"   {mark} {name}: {escape(v['reason'])}", soft_wrap=True)
    for s in d.grounding.get("sentences", []):
        mark = "✓" if s["supported"] else "?"
        console.print(
            f"     {mark} {escape(snippet(s['text'], 70))} [dim]({escape(s['reason'])}; "
            f"nearest [{s.get('source')}] {escape(snippet(s.get('nearest') or '', 60))})"
            "[/dim]",
            soft_wrap=True,
        )


def _answer(console: Console, d: journal.AnswerStep) -> None:
    console.print(f"   status {d.status} · from attempt {d.attempt} · citations {d.citations}")


_STEP_PRINTERS = {
    journal.Features: _features,
    journal.Embed: _embed,
    journal.Rewrite: _rewrite,
    journal.Guard: _guard,
    journal.Retrieve: _retrieve,
    journal.Prompt: _prompt,
    journal.Generate: _generate,
    journal.Validate: _validate,
    journal.AnswerStep: _answer,
}


# -- feedback --------------------------------------------------------------------------------
_VERDICT = {"good": "[green]good[/green]", "bad": "[red]bad[/red]"}


def _when(iso: str) -> str:
    return str(iso)[:16].replace("T", " ")


def _rated(verdict: str | None) -> str:
    return f"{_VERDICT[verdict]} · " if verdict in _VERDICT else ""


def print_rating(console: Console, rating) -> None:
    """What `docqa feedback` recorded (a docqa.flows.feedback.Rating)."""
    who = f"user {rating.user}" if rating.user else "the anonymous user"
    console.print(
        f"interaction {rating.interaction_id} rated {_VERDICT[rating.verdict]} by {escape(who)}",
        highlight=False,
        soft_wrap=True,
    )
    if rating.note:
        console.print(f"  note: {escape(rating.note)}", highlight=False, soft_wrap=True)
    old = rating.replaced
    if old is not None:
        note = f", note: {escape(old.note)}" if old.note else ""
        console.print(
            f"[dim]replaced the earlier verdict of {escape(who)}: {old.verdict} "
            f"({_when(old.created_at)} UTC{note})[/dim]",
            highlight=False,
            soft_wrap=True,
        )


def print_log(console: Console, rows: list[dict]) -> None:
    if not rows:
        console.print("no interactions recorded")
        return
    table = Table(box=None, header_style="bold")
    for col in ("id", "when (UTC)", "user", "session", "status", "tries", "grounded", "s"):
        table.add_column(
            col,
            no_wrap=col in ("id", "when (UTC)", "tries", "grounded", "s"),
            min_width=len("interrupted") if col == "status" else None,  # whole on 80 columns
        )
    table.add_column("question", overflow="fold", ratio=1, min_width=20)
    for r in rows:
        session = f"{r['session']}#{r['turn']}" if r.get("session") else ""
        grounded = "" if r.get("groundedness") is None else f"{r['groundedness']:.2f}"
        table.add_row(
            str(r["id"]),
            str(r["created_at"])[:16].replace("T", " "),
            escape(r.get("user") or "-"),
            escape(session),
            _SHOWN.get(str(r["status"]), escape(str(r["status"]))),
            str(r.get("attempts") or ""),
            grounded,
            f"{r.get('seconds') or 0:.1f}",
            # the verdict (`docqa feedback`) leads the question: a column of its own would
            # leave the question no room on 80 columns
            # (in a pipe the question is whole: a script or a pager wants all of it)
            _rated(r.get("feedback"))
            + escape(snippet(r["question"], 80) if console.is_terminal else r["question"]),
        )
    console.print(table)


# -- monitor report --------------------------------------------------------------------------
def sparkline(values: list[float], width: int = 60) -> str:
    """Values as a line of block characters (the last `width` of them), low to high."""
    blocks = "▁▂▃▄▅▆▇█"
    values = values[-width:]
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(blocks[int((v - low) / span * (len(blocks) - 1))] for v in values)


def _test_line(t: dict) -> str:
    if "note" in t:
        return f"[dim]{escape(t['note'])}[/dim]"
    parts = [f"n {t['n_reference']} → {t['n_current']}"]
    if "auc" in t:
        lo, hi = t["auc_ci"]
        parts.append(f"AUC {t['auc']:.2f} [{lo:.2f}, {hi:.2f}]")
    if "effect_ci" in t:
        lo, hi = t["effect_ci"]
        parts.append(
            f"{t['reference']:.1%} → {t['current']:.1%} (change {t['effect']:+.1%} "
            f"[{lo:+.1%}, {hi:+.1%}])"
        )
    parts.append(f"p {t['p']:.4f} · q {t.get('q', 1):.4f}")
    mark = " [bold red]ALERT[/bold red]" if t.get("alert") else ""
    return escape(" · ".join(parts)) + mark


def print_report(console: Console, r: dict) -> None:
    cur, ref = r["window"]["current"], r["window"]["reference"]
    console.print(
        f"[bold]docqa monitor report[/bold] · {escape(str(r['scope']))} · current "
        f"{cur['n']} asks, reference {ref['n']} · {r['tests']} tests",
        highlight=False,
    )
    if r["alerts"]:
        console.print("[bold red]alerts:[/bold red] " + escape(", ".join(r["alerts"])))
    else:
        console.print("[green]no alerts[/green]")
    d = r["drift"]
    console.print("\n[bold cyan]Question drift[/bold cyan] (MMD² permutation test)")
    console.print("  " + _test_line(d), highlight=False, soft_wrap=True)
    for t in d.get("topics", []):
        console.print(f"  {escape(t['name'])}: " + _test_line(t), highlight=False, soft_wrap=True)
        for q in t.get("examples", [])[:2]:
            console.print(f"      [dim]{escape(snippet(q, 90))}[/dim]", highlight=False)
    o = r["outliers"]
    console.print(
        "\n[bold cyan]Outlier questions[/bold cyan] (far from documents and past questions)"
    )
    if "note" in o:
        console.print(f"  [dim]{escape(o['note'])}[/dim]")
    for q in o.get("questions", [])[:10]:
        console.print(
            f"  #{q['id']} {escape(snippet(q['question'], 80))} [dim](corpus "
            f"{q['corpus_score']:.3f} > {o['corpus_threshold']:.3f}, past {q['past_score']:.3f} > "
            f"{o['past_threshold']:.3f})[/dim]",
            highlight=False,
            soft_wrap=True,
        )
    if o.get("flagged_when_asked"):
        ids = ", ".join(f"#{i}" for i in o["flagged_when_asked"][:10])
        console.print(f"  [dim]flagged by the guard when asked: {ids}[/dim]", highlight=False)
    if "share" in o and "note" not in o["share"]:
        console.print("  share: " + _test_line(o["share"]), highlight=False, soft_wrap=True)
    rt = r["retrieval"]
    console.print("\n[bold cyan]Retrieval[/bold cyan]")
    console.print("  top similarity: " + _test_line(rt["scores"]), highlight=False, soft_wrap=True)
    for key, label in (
        ("documents_never_retrieved", "never retrieved"),
        ("documents_newly_retrieved", "newly retrieved"),
        ("documents_no_longer_retrieved", "no longer retrieved"),
    ):
        if rt[key]:
            names = ", ".join(shown_path(p) for p in rt[key][:8])
            console.print(f"  {label}: {escape(names)}", highlight=False, soft_wrap=True)
    console.print("\n[bold cyan]Toxicity and sentiment[/bold cyan]")
    for what in ("questions", "answers"):
        t, s = r["toxicity"][what], r["sentiment"][what]
        console.print(f"  toxic {what}: " + _test_line(t), highlight=False, soft_wrap=True)
        console.print(
            f"  sentiment of {what}: mean {s['mean']:+.2f} [{s['mean_ci'][0]:+.2f}, "
            f"{s['mean_ci'][1]:+.2f}], negative {s['negative_rate']:.0%}",
            highlight=False,
        )
    h = r["hallucination"]
    console.print(f"\n[bold cyan]Groundedness[/bold cyan] ({h['n']} answers)")
    rates = " · ".join(
        f"{k.replace('_', ' ')} {v['rate']:.0%} [{v['ci'][0]:.0%}, {v['ci'][1]:.0%}]"
        for k, v in h["rates"].items()
    )
    console.print(f"  {rates}", highlight=False, soft_wrap=True)
    console.print(
        "  partially grounded: " + _test_line(h["partially_grounded_change"]),
        highlight=False,
        soft_wrap=True,
    )
    for wst in h["worst"][:3]:
        console.print(
            f"  #{wst['id']} [yellow]{escape(snippet(wst['sentence'], 80))}[/yellow] "
            f"[dim]({escape(wst.get('reason') or '')}; nearest: "
            f"{escape(snippet(wst.get('nearest') or '', 60))})[/dim]",
            highlight=False,
            soft_wrap=True,
        )
    _print_feedback(console, r["feedback"])
    c = r["conversations"]
    turns = c["turns"]
    console.print("\n[bold cyan]Conversations[/bold cyan]")
    console.print(
        f"  {c['sessions']} sessions · turns mean {turns.get('mean', 0)} max {turns.get('max', 0)}"
        f" · re-ask rate {c['reask_rate']:.0%}",
        highlight=False,
    )
    op = r["operations"]
    console.print("\n[bold cyan]Operations[/bold cyan]")
    table = Table(box=None, header_style="bold", padding=(0, 1, 0, 2))
    for col in ("stage", "p50 s", "p95 s", "p99 s"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    for stage, v in op["latency"].items():
        table.add_row(stage, f"{v['p50']:.3f}", f"{v['p95']:.3f}", f"{v['p99']:.3f}")
    console.print(table)
    if op.get("total_seconds_series"):
        console.print(
            f"  seconds per ask, oldest to newest: {sparkline(op['total_seconds_series'])}",
            highlight=False,
        )
    console.print(
        f"  cache hit rate {op['cache_hit_rate']:.0%} · error rate {op['error_rate']:.0%}"
        f"{_interrupted(op.get('interrupted', 0))} · attempts per answer {op['attempts_mean']:.2f}",
        highlight=False,
    )


def _print_feedback(console: Console, f: dict) -> None:
    console.print(f"\n[bold cyan]Feedback[/bold cyan] ({f['rated']} of {f['n']} answers rated)")
    if not f["rated"]:
        console.print("  [dim]no answers rated yet (`docqa feedback ID good|bad`)[/dim]")
    else:
        lo, hi = f["good_ci"]
        console.print(
            f"  rated good {f['good_rate']:.0%} [{lo:.0%}, {hi:.0%}] ({f['good']} good, "
            f"{f['bad']} bad)",
            highlight=False,
        )
    console.print("  rated good: " + _test_line(f["good_change"]), highlight=False, soft_wrap=True)
    for b in f["worst"][:5]:
        note = f" [dim]({escape(b['note'])})[/dim]" if b.get("note") else ""
        console.print(
            f"  #{b['id']} [red]bad[/red] {escape(snippet(b['question'], 70))}{note}",
            highlight=False,
            soft_wrap=True,
        )
    if f["worst"]:
        console.print("  [dim]`docqa trace ID` shows how each came about[/dim]", highlight=False)


def _interrupted(n: int) -> str:
    """How many of the errors are asks whose process died."""
    return f" ({n} interrupted: the process died)" if n else ""


def _cached(n: int | None) -> str:
    """Cached prompt tokens, or that the model server did not say."""
    return "cache not reported" if n is None else f"{n} cached"
