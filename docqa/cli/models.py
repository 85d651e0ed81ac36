"""`docqa models`: the reader models docqa knows, which are installed, and where."""

from __future__ import annotations

from typing import Annotated

import typer

from docqa.cli.common import HomeOpt, JsonOpt, ModelOpt, guarded, out, settings


@guarded
def models_command(
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Hash every installed model's file again (joining those made of parts), "
            "and fail if one is wrong.",
        ),
    ] = False,
    model: ModelOpt = None,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
) -> None:
    """List the reader models and the embedders: installed or not, size, licence, and how
    to install them.

    Pick a reader with `docqa ask --model NAME` (or DOCQA_MODEL, or `model = "NAME"` in
    docqa.toml); `--model PATH` loads any GGUF file. Move a store to another embedder with
    `docqa reindex --embedder NAME`."""
    from docqa import contract, models, render
    from docqa.config import models_dir
    from docqa.errors import ModelError

    config = settings(home, model=model)
    folder = models_dir(config)
    chosen = config.model if config.model and models.model_named(config.model) else None
    rows = models.listing(folder, default=models.DEFAULT_MODEL)
    problems = []
    for row in rows:
        row["selected"] = row["name"] == (chosen or models.DEFAULT_MODEL)
    if verify:
        problems += _verify(rows, models.MODELS, folder)
    embedders = models.embedder_listing(folder, _chosen_embedder(config))
    if verify:
        problems += _verify(embedders, models.EMBEDDERS, folder)
    if json_out:
        print(contract.dumps({"models": rows, "model_dir": str(folder), "embedders": embedders}))
    else:
        render.print_models(out, rows, folder)
        render.print_embedders(out, embedders)
    if problems:
        raise ModelError("; ".join(problems))


def _verify(rows: list[dict], specs: dict, folder) -> list[str]:
    """Hash each installed row's file again (joining or unpacking it first), marking the row
    verified or not; the problems found. A row without a spec (minilm) is not hashed."""
    from docqa import models
    from docqa.errors import ModelError

    problems = []
    for row in rows:
        if row["installed"] and row["name"] in specs:
            try:
                models.verify(specs[row["name"]], folder)
                row["verified"] = row["joined"] = True
            except ModelError as exc:
                row["verified"] = False
                problems.append(str(exc))
    return problems


def _chosen_embedder(config) -> str | None:
    """The embedder of chunk vectors the settings, else the store, choose (None: a folder)."""
    from docqa.components import Components

    if config.embedder is None and not config.db_path.is_file():
        from docqa.config import DEFAULT_EMBEDDER

        return DEFAULT_EMBEDDER
    comps = Components(config)
    try:
        return comps.embedder_choice[0]
    finally:
        comps.close()
