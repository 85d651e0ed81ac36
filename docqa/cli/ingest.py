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
from docqa.cli.progress import IngestBar


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
        progress = IngestBar() if err.is_terminal and not json_out else None
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
