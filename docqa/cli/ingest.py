"""`docqa ingest`: add, update and prune documents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from docqa.cli.common import (
    EmbedderOpt,
    HomeOpt,
    JsonOpt,
    WaitOpt,
    components,
    err,
    guarded,
    out,
    settings,
    writing,
)


class _RichProgress:
    """Files and chunks, with rate and ETA, on stderr; only on a terminal."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files · {task.fields[chunks]} chunks · {task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        )
        self.task = None
        self.chunks = 0

    def begin(self, files: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("ingest", total=files, chunks=0, rate="")

    def advance(self, files: int = 0, chunks: int = 0) -> None:
        self.chunks += chunks
        task = self.progress.tasks[0]
        elapsed = task.elapsed or 0.0
        rate = f"{self.chunks / elapsed:.0f} chunks/s" if elapsed > 0.5 and self.chunks else ""
        self.progress.update(self.task, advance=files, chunks=self.chunks, rate=rate)

    def end(self) -> None:
        self.progress.stop()


@guarded
def ingest_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files and folders (walked recursively).", show_default=False),
    ],
    group: Annotated[
        list[str] | None,
        typer.Option(
            "--group",
            help="Only members of this group may retrieve these documents (repeatable). "
            "Without it, new documents are public and stored ones keep their groups.",
            show_default=False,
        ),
    ] = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove documents whose files are gone.")
    ] = False,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
    embedder: EmbedderOpt = None,
    wait: WaitOpt = None,
) -> None:
    """Add documents to the store (.txt .md .rst .html .pdf .docx .odt .pptx .epub .csv .tsv
    .xlsx .ipynb .eml); unchanged files are skipped.

    Exit code 3 when some files failed: the others are kept, each failure is listed.
    """
    from docqa import contract, render, service
    from docqa.flows.users import check_groups

    groups = check_groups(group) if group else None
    config = settings(home, embedder=embedder)
    comps = components(config)
    with writing(config, wait):  # one writer at a time; a killed ingest releases it too
        progress = _RichProgress() if err.is_terminal and not json_out else None
        try:
            done = service.ingest(comps, paths, prune=prune, groups=groups, progress=progress)
        finally:
            if progress:
                progress.end()  # (again: rich stops once) when the ingest failed midway
            comps.close()
    report, query = done.report, done.query_embedder
    if json_out:
        print(
            contract.dumps(
                {
                    **contract.ingest_json(report),
                    "query_embedder": contract.query_embedder_json(query),
                }
            )
        )
    else:
        render.print_ingest(out, err, report)
        if isinstance(query, str) or query.made:
            err.print(f"[dim]query embedder: {contract.query_embedder_json(query)['note']}[/dim]")
    if report.failed:
        raise typer.Exit(3)
