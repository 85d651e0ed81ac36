"""The `docqa` command line: a thin Typer layer that parses, calls the flows and renders."""

from __future__ import annotations

import os

import typer

from docqa.cli import (
    chat,
    docs,
    doctor,
    eval,
    feedback,
    helptext,
    ingest,
    models,
    monitor,
    query,
    reindex,
    run,
    trace,
    users,
)

app = typer.Typer(
    name="docqa",
    help="Ask questions about your documents, answered by a local model with citations.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.command(name="ingest")(ingest.ingest_command)
app.command(name="reindex")(reindex.reindex_command)
app.command(name="search")(query.search_command)
app.command(name="ask")(query.ask_command)
app.command(name="chat")(chat.chat_command)
app.command(name="run")(run.run_command)
app.add_typer(docs.app, name="docs")
app.add_typer(users.app, name="users")
app.command(name="trace")(trace.trace_command)
app.add_typer(trace.log_app, name="log")
app.command(name="feedback")(feedback.feedback_command)
app.add_typer(monitor.app, name="monitor")
app.command(name="doctor")(doctor.doctor_command)
app.command(name="models")(models.models_command)
app.command(name="eval")(eval.eval_command)
helptext.tidy(app)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    app()
