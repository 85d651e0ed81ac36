"""`docqa reindex`: embed the stored chunks again for another embedder."""

from __future__ import annotations

from typing import Annotated

import typer

from docqa.cli.common import (
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
from docqa.cli.progress import ReindexBar


@guarded
def reindex_command(
    embedder: Annotated[
        str | None,
        typer.Option(
            "--embedder",
            help="The embedder to move the store to: minilm, nomic-embed-v1.5, or a "
            "sentence-transformers model folder (default: the configured one).",
            show_default=False,
        ),
    ] = None,
    dimension: Annotated[
        int | None,
        typer.Option(
            "--dimension",
            help="nomic-embed-v1.5's vector size: 768, 512, 256 or 128 (default: the "
            "configured one, else 768).",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
    wait: WaitOpt = None,
) -> None:
    """Embed every stored chunk again with another embedder, from the text the store holds
    (no file is read again).

    An interrupted reindex leaves the store as it was, usable with the old embedder; running
    it again goes on where it stopped. Afterwards every command uses the new embedder
    without --embedder, unless docqa.toml or DOCQA_EMBEDDER names another."""
    from docqa import contract, render, service

    config = settings(home, embedder=embedder, embedder_dimension=dimension)
    comps = components(config)
    with writing(config, wait):
        progress = ReindexBar() if err.is_terminal and not json_out else None
        try:
            report = service.reindex(comps, progress)
        finally:
            if progress:
                progress.end()
            comps.close()
    if json_out:
        print(contract.dumps(contract.reindex_json(report)))
    else:
        render.print_reindex(out, report)
