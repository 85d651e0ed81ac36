"""`docqa doctor`: check that the store is consistent; `--repair` rebuilds what is derived."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from docqa.cli.common import (
    EmbedderOpt,
    HomeOpt,
    JsonOpt,
    WaitOpt,
    components,
    guarded,
    out,
    settings,
    writing,
)


@guarded
def doctor_command(
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Rebuild what is derived from SQLite (vector index, full-text index, ONNX "
            "export), remove broken cache and temporary files, and mark interactions whose "
            "process died as interrupted. Documents and history are never deleted.",
        ),
    ] = False,
    json_out: JsonOpt = False,
    home: HomeOpt = None,
    embedder: EmbedderOpt = None,
    wait: WaitOpt = None,
) -> None:
    """Check the store: index against SQLite, files gone, embedder, schema, cache files; and
    the model runtime: the CPU, the llama.cpp build, and how the model's weights are laid out.

    Exit code 0 when all is well, 1 when a problem remains (each one named).
    """
    import contextlib
    import json

    from docqa.contract import doctor_json
    from docqa.flows.doctor import Check, diagnose

    config = settings(home, embedder=embedder)
    comps = components(config)
    lock = writing(config, wait) if repair else contextlib.nullcontext()
    try:
        with lock:
            checks = diagnose(
                comps.store,
                home=config.home,
                cache_dir=config.cache_dir,
                index=comps.new_index(_dimension(comps)),
                embedder=_identity(comps),
                repair=repair,
                reexport=_reexport(comps),
            )
        runtime = comps.model_runtime()
        embedders = _embedders(comps)
    finally:
        comps.close()
    model_check = Check("model runtime")
    if runtime["error"]:
        model_check.problems.append(runtime["error"])
    checks.append(model_check)
    report = doctor_json(checks, runtime)
    report["embedders"] = embedders
    if json_out:
        print(json.dumps(report))
    else:
        for check in checks:
            mark = "[green]ok[/green]" if check.ok else "[red]problem[/red]"
            out.print(f"{check.name:<15} {mark}")
            for line in check.repaired:
                out.print(f"  [dim]repaired:[/dim] {escape(line)}")
            for line in check.problems:
                out.print(f"  {escape(line)}")
        _print_runtime(runtime)
        for role, text in embedders.items():
            if text:
                out.print(f"  [dim]{role} embedder:[/dim] {escape(text)}", soft_wrap=True)
    if not report["ok"]:
        raise typer.Exit(1)


def _print_runtime(runtime: dict) -> None:
    """The runtime's facts, each on one line (whole in a pipe: paths are never cut)."""
    cpu, build, weights = runtime["cpu"], runtime["llama_cpp"], runtime["weights"]
    lines = [
        ("cpu", f"{cpu['model']} ({' '.join(cpu['features']) or '-'})"),
        ("llama.cpp", f"llama-cpp-python {build['version']}; {build['system_info']}"),
    ]
    if runtime["model"]:
        lines.append(("model", runtime["model"]))
    if weights:
        lines.append(("weights", f"{weights['path']} ({weights['source']})"))
        lines.append(("why", weights["reason"]))
    if runtime["backend"] == "remote":
        lines.append(("answers", "from the model server (--llm-url)"))
    for name, text in lines:
        out.print(f"  [dim]{name}:[/dim] {escape(text)}", soft_wrap=True)


def _dimension(comps) -> int:
    recorded = comps.store.corpus.embedder()
    return recorded.dimension if recorded is not None else comps.document_embedder.dimension


def _identity(comps):
    """The configured embedder's identity; None when it cannot be loaded."""
    from docqa.errors import ModelError
    from docqa.flows.corpus import identity_of

    try:
        return identity_of(comps.chunk_embedder or comps.document_embedder)
    except ModelError:
        return None


def _embedders(comps) -> dict:
    """Which embedders the store was built with, for chunks and for sentences."""
    chunks, sentences = comps.store.corpus.embedder(), comps.store.corpus.sentence_embedder()
    return {
        "chunk": str(chunks) if chunks else None,
        "sentence": str(sentences) if sentences else None,
    }


def _reexport(comps):
    """Checks (and, asked to, makes) the ONNX export of a sentence-transformers embedder."""
    from docqa.adapters.embedder import SentenceTransformerEmbedder
    from docqa.adapters.onnx_embedder import find_export

    source = comps.document_embedder
    if comps.settings.query_embedder != "auto" or not isinstance(
        source, SentenceTransformerEmbedder
    ):
        return None

    def reexport(make: bool):
        if make:
            return comps.prepare_query_embedder()
        found = find_export(source.path, comps.settings.cache_dir)
        return found if found is not None else "none made yet"

    return reexport
