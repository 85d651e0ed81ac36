"""The ask flow: retrieve -> prompt -> guided generation -> answer, with every stage recorded."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from docqa.adapters.protocols import LLM, Embedder
from docqa.errors import DocqaError, GenerationError
from docqa.flows.retrieve import Retrieval, retrieve
from docqa.prompts import Prompt, render_prompt
from docqa.records import Answer, Citation, Completion, Hit
from docqa.store import Store

MAX_ANSWER_CHARS = 300
MAX_CITATIONS = 3
# One line of prose, 1..MAX_ANSWER_CHARS characters: no control characters, escapes or braces,
# and no leading space, so a small model cannot wander into fake JSON or blank lines.
ANSWER_PATTERN = r'^[^ "\\\x00-\x1f{}][^"\\\x00-\x1f{}]{0,' + str(MAX_ANSWER_CHARS - 1) + "}$"


def answer_schema(n_sources: int) -> dict:
    """The JSON schema the model's reply is held to: every string and array bounded, and
    citations limited to the numbers of the sources actually shown."""
    citation = {"type": "integer", "enum": list(range(1, n_sources + 1))}
    if n_sources == 0:
        citation = {"type": "integer", "enum": [0]}
    return {
        "type": "object",
        "properties": {
            "answer": {"type": "string", "pattern": ANSWER_PATTERN},
            "citations": {
                "type": "array",
                "items": citation,
                "minItems": 0,
                "maxItems": min(MAX_CITATIONS, max(n_sources, 1)),
            },
            "answerable": {"type": "boolean"},
        },
        "required": ["answer", "citations", "answerable"],
        "additionalProperties": False,
    }


def max_output_tokens(schema: dict) -> int:
    """A token budget the schema's longest reply fits in: every token of the reply holds at
    least one character (two for the rare character the model spells in bytes)."""
    return 2 * MAX_ANSWER_CHARS + 8 * MAX_CITATIONS + 64


def _title(hit: Hit) -> str:
    return Path(hit.path).name


@dataclass(frozen=True)
class AskOptions:
    k: int = 5
    template: str = "qa"
    log: bool = True
    mode: str = "generative"


def ask(
    question: str,
    *,
    store: Store,
    embedder: Embedder,
    index,
    llm: LLM,
    options: AskOptions = AskOptions(),
) -> Answer:
    """Answer one question from the store's documents; records the interaction unless
    options.log is false."""
    started = time.perf_counter()
    steps: list[dict] = []
    record: dict = {
        "kind": "ask",
        "question": question,
        "mode": options.mode,
        "template": options.template,
        "model": llm.name,
        "embedder": embedder.name,
        "k": options.k,
    }
    try:
        t_load = time.perf_counter()
        embedder.load()
        llm.load()
        load_seconds = time.perf_counter() - t_load
        found = retrieve(question, store=store, embedder=embedder, index=index, k=options.k)
        record["question"] = found.question
        record["question_embedding"] = found.vector.astype("float32").tobytes()
        steps.append(
            {
                "stage": "embed",
                "seconds": found.timings["embed"],
                "data": {"dimension": int(found.vector.shape[0])},
            }
        )
        steps.append(
            {
                "stage": "retrieve",
                "seconds": found.timings["retrieve"],
                "data": {"hits": [_hit_record(h) for h in found.hits]},
            }
        )

        t0 = time.perf_counter()
        prompt = _prompt(found, options)
        schema = answer_schema(len(found.hits))
        t1 = time.perf_counter()
        steps.append(
            {
                "stage": "prompt",
                "seconds": t1 - t0,
                "data": {
                    "template": prompt.template,
                    "sha256": prompt.sha256,
                    "messages": list(prompt.messages),
                    "schema": schema,
                },
            }
        )
        completion = llm.complete(
            prompt.messages, schema=schema, max_tokens=max_output_tokens(schema)
        )
        t2 = time.perf_counter()
        record.update(
            prompt=completion.prompt,
            raw_output=completion.text,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )
        steps.append(
            {"stage": "generate", "seconds": t2 - t1, "data": _completion_record(completion)}
        )
        answer_text, answerable, numbers = parse_reply(completion)
    except DocqaError as exc:
        if options.log and "question_embedding" in record:
            record.update(status="error", error=str(exc), seconds=time.perf_counter() - started)
            store.log_interaction(record, steps)
        raise

    citations = tuple(Citation(n, found.hits[n - 1]) for n in numbers if 1 <= n <= len(found.hits))
    status = "answered" if answerable else "unanswerable"
    timings = {
        "load": load_seconds,
        "embed": found.timings["embed"],
        "retrieve": found.timings["retrieve"],
        "prompt": t1 - t0,
        "generate": t2 - t1,
    }
    timings["total"] = time.perf_counter() - started
    tokens = {"prompt": completion.prompt_tokens, "completion": completion.completion_tokens}
    iid = None
    if options.log:
        record.update(
            answer=answer_text,
            answerable=int(answerable),
            status=status,
            citations=[{"n": c.n, "chunk_id": c.hit.chunk_id} for c in citations],
            timings=timings,
            seconds=timings["total"],
        )
        steps.append(
            {
                "stage": "answer",
                "seconds": 0.0,
                "data": {"status": status, "citations": [c.n for c in citations]},
            }
        )
        iid = store.log_interaction(record, steps)
    return Answer(
        id=iid,
        question=found.question,
        answer=answer_text,
        answerable=answerable,
        citations=citations,
        hits=found.hits,
        status=status,
        model=llm.name,
        template=prompt.template,
        timings=timings,
        tokens=tokens,
    )


def _prompt(found: Retrieval, options: AskOptions) -> Prompt:
    sources = [
        {
            "n": i,
            "path": h.path,
            "title": _title(h),
            "heading": h.heading,
            "where": h.where,
            "text": h.text,
        }
        for i, h in enumerate(found.hits, start=1)
    ]
    return render_prompt(
        options.template,
        {"question": found.question, "sources": sources, "max_citations": MAX_CITATIONS},
    )


def parse_reply(completion: Completion) -> tuple[str, bool, list[int]]:
    """(answer, answerable, citation numbers) from the model's JSON reply."""
    try:
        data = json.loads(completion.text)
        answer = str(data["answer"]).strip()
        answerable = bool(data["answerable"])
        numbers = []
        for n in data.get("citations") or []:
            if isinstance(n, int) and n not in numbers:
                numbers.append(n)
    except (ValueError, KeyError, TypeError) as exc:
        cut = " (cut off at the token limit)" if completion.finish_reason == "length" else ""
        raise GenerationError(f"the model's reply was not the expected JSON{cut}: {exc}") from exc
    if not answerable:
        numbers = []
    return answer, answerable, numbers


def _hit_record(hit: Hit) -> dict:
    return {
        "chunk_id": hit.chunk_id,
        "score": hit.score,
        "dense_score": hit.dense_score,
        "dense_rank": hit.dense_rank,
        "lexical_rank": hit.lexical_rank,
    }


def _completion_record(c: Completion) -> dict:
    return {
        "prompt_tokens": c.prompt_tokens,
        "completion_tokens": c.completion_tokens,
        "finish_reason": c.finish_reason,
        "raw_output": c.text,
    }
