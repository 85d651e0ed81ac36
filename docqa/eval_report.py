"""`docqa eval`'s results for people: a summary and the misses at a terminal, and one
self-contained HTML file (no script, no network)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from docqa.errors import DocqaError

TEMPLATE = Path(__file__).with_name("eval_report.html.j2")
SHOWN_MISSES = 20


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def summary_rows(report: dict) -> list[tuple[str, str]]:
    lat = report["latency"]
    latency = f"p50 {_fmt(lat['p50'])} s, p95 {_fmt(lat['p95'])} s"
    if report["mode"] == "search":
        return [
            ("questions", f"{report['n']} ({report['with_evidence']} with evidence)"),
            ("hit@1", _fmt(report["hit@1"])),
            ("hit@5", _fmt(report["hit@5"])),
            ("hit@10", _fmt(report["hit@10"])),
            ("MRR", _fmt(report["mrr"])),
            ("latency", latency),
        ]
    return [
        ("questions", f"{report['n']} ({report['answerable']} answerable)"),
        ("correct", f"{report['correct']} (accuracy {_fmt(report['accuracy'])})"),
        ("refused", str(report["refused"])),
        ("false refusals", str(report["false_refusals"])),
        ("correct refusals", f"{report['correct_refusals']} of {report['unanswerable']}"),
        ("grounded but wrong", str(report["grounded_but_wrong"])),
        ("errors", str(report["errors"])),
        ("latency", latency),
    ]


def miss_line(report: dict, row: dict) -> str:
    label = row.get("id") or ""
    if report["mode"] == "search":
        where = "not in the top 10" if row["rank"] is None else f"rank {row['rank']}"
        return f"{label} {where}: {row['question']} (top: {', '.join(row['top'])})"
    expected = " | ".join(row["expected"]) or "a refusal"
    return f"{label} [{row['status']}] {row['question']} -> {row['answer']!r} (expected {expected})"


def print_eval(console: Console, report: dict) -> None:
    table = Table(title=f"docqa eval --mode {report['mode']}: {report['questions_file']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in summary_rows(report):
        table.add_row(name, value)
    console.print(table)
    misses = report["misses"]
    if misses:
        console.print(f"[bold]misses[/bold] ({len(misses)}):")
        for row in misses[:SHOWN_MISSES]:
            console.print(f"  {escape(miss_line(report, row))}", soft_wrap=True)
        if len(misses) > SHOWN_MISSES:
            console.print(f"  ... and {len(misses) - SHOWN_MISSES} more (--json lists all)")


def write_html(report: dict, path: Path) -> None:
    from jinja2 import Environment, StrictUndefined

    env = Environment(autoescape=True, undefined=StrictUndefined)
    page = env.from_string(TEMPLATE.read_text(encoding="utf-8")).render(
        r=report, summary=summary_rows(report), miss_line=miss_line
    )
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise DocqaError(f"cannot write {path}: {exc.strerror or exc}") from exc
