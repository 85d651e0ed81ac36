"""`docqa docs`: list and remove ingested documents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from docqa.cli.common import (
    HomeOpt,
    JsonOpt,
    WaitOpt,
    components,
    fail,
    guarded,
    out,
    settings,
    writing,
)

app = typer.Typer(help="List or remove ingested documents.", no_args_is_help=True)


@app.command("list")
@guarded
def list_command(json_out: JsonOpt = False, home: HomeOpt = None) -> None:
    """List the documents in the store."""
    from docqa import contract, render

    comps = components(settings(home))
    docs = comps.store.corpus.documents()
    comps.close()
    if json_out:
        print(contract.dumps({"documents": [contract.doc_json(d) for d in docs]}))
    else:
        render.print_docs(out, docs)


@app.command("rm")
@guarded
def rm_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="A document's path, or a folder: every document under it.", show_default=False
        ),
    ],
    json_out: JsonOpt = False,
    home: HomeOpt = None,
    wait: WaitOpt = None,
) -> None:
    """Remove a document (the file itself is not touched)."""
    from docqa import contract, render
    from docqa.flows.ingest import remove_documents

    config = settings(home)
    comps = components(config)
    try:
        with writing(config, wait):
            identity = comps.store.corpus.embedder()  # None: nothing was ever ingested
            removed = (
                []
                if identity is None
                else remove_documents(
                    path,
                    store=comps.store,
                    index=comps.new_index(identity.dimension),
                    dimension=identity.dimension,
                )
            )
    finally:
        comps.close()
    if not removed:
        raise fail(f"not in the store: {escape(str(path))}")
    if json_out:
        print(contract.dumps({"removed": removed}))
    else:
        for p in removed:
            out.print(f"removed {render.shown_path(p)}")
