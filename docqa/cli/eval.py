"""`docqa eval`: run a question set with gold answers through search or the answer loop."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from docqa import service
from docqa.cli.common import (
    ContextOpt,
    EmbedderOpt,
    HomeOpt,
    JsonOpt,
    KOpt,
    LlmUrlOpt,
    MaxAttemptsOpt,
    Mode,
    ModelOpt,
    TemplateOpt,
    UserOpt,
    components,
    guarded,
    out,
    settings,
)


class EvalMode(StrEnum):
    search = "search"
    ask = "ask"


@guarded
def eval_command(
    questions: Annotated[
        Path,
        typer.Argument(
            help="JSON lines, one question each: question, and optionally evidence (text a "
            "retrieved chunk must hold), answer (a string or a list), answerable (false when "
            "the documents do not answer it), id, half.",
            show_default=False,
        ),
    ],
    eval_mode: Annotated[
        EvalMode,
        typer.Option(
            "--mode",
            help="search: rank each question's evidence among the retrieved chunks (hit@1/5/10, "
            "MRR). ask: run the answer loop and judge each answer.",
        ),
    ] = EvalMode.search,
    half: Annotated[
        str | None,
        typer.Option(
            "--half",
            help="Only the questions whose half field is this (e.g. dev to tune, test to report).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Only the first N questions.", min=1, show_default=False),
    ] = None,
    answer_mode: Annotated[
        Mode,
        typer.Option("--answer-mode", help="The ask mode used in --mode ask."),
    ] = Mode.generative,
    max_attempts: MaxAttemptsOpt = 3,
    k: KOpt = None,
    context_tokens: ContextOpt = None,
    template: TemplateOpt = None,
    user: UserOpt = None,
    model: ModelOpt = None,
    llm_url: LlmUrlOpt = None,
    log: Annotated[
        bool,
        typer.Option(
            "--log",
            help="Record each ask in the interaction log (off: evaluation questions would "
            "count in monitor report).",
        ),
    ] = False,
    json_out: JsonOpt = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the results as one HTML file.", show_default=False),
    ] = None,
    home: HomeOpt = None,
    embedder: EmbedderOpt = None,
) -> None:
    """Measure retrieval or answers on a question set with gold evidence and answers.

    Exit code 0 whatever the scores (a usage error, 2, for a bad question file).
    """
    from dataclasses import replace

    from docqa import contract
    from docqa.eval_report import print_eval, write_html
    from docqa.flows.evaluate import evaluate_ask, evaluate_search, load_items
    from docqa.flows.modes import mode_named
    from docqa.prompts import resolve_template

    items = load_items(questions, half=half)[:limit]
    config = settings(
        home,
        embedder=embedder,
        model=model,
        llm_url=llm_url,
        k=k,
        context_tokens=context_tokens,
        user=user,
    )
    config = replace(
        config, template=mode_named(answer_mode).template_of(template, config.template)
    )
    resolve_template(config.template)  # a bad template fails before any model loads
    comps = components(config)
    try:
        who = service.profile(comps)
        if eval_mode is EvalMode.search:
            report = evaluate_search(
                items,
                lambda q, depth: [
                    contract.hit_json(h) for h in service.search(comps, q, depth, who).hits
                ],
            )
        else:
            from docqa.flows.ask import AskOptions

            options = AskOptions(
                k=config.k,
                template=config.template,
                log=log,
                mode=mode_named(answer_mode),
                max_attempts=max_attempts,
                user=who,
            )
            report = evaluate_ask(
                items, lambda q: contract.answer_json(service.ask(comps, q, options))
            )
    finally:
        comps.close()
    report = {"questions_file": str(questions), "half": half, **report}
    if html is not None:
        write_html(report, html)
    if json_out:
        print(contract.dumps(report))
    else:
        print_eval(out, report)
