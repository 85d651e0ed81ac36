"""The ask flow: retrieve -> prompt -> guided generation -> answer, with every stage recorded."""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from docqa.adapters.protocols import LLM, Embedder
from docqa.errors import DocqaError, GenerationError
from docqa.flows import extractive
from docqa.flows.retrieve import retrieve
from docqa.guide.program import ProgramResult
from docqa.prompts import load_program
from docqa.records import Answer, Citation, Hit, SearchResult
from docqa.store import Store

MAX_ANSWER_CHARS = 300
MAX_CITATIONS = 3
# One line of prose, 1..MAX_ANSWER_CHARS characters, starting with a letter or digit: no
# control characters, escapes or braces, so a small model cannot wander into fake JSON, blank
# lines or a punctuation loop (seen: answers starting "', 1.3333..." that ran to the limit).
ANSWER_PATTERN = r'^\w[^"\\\x00-\x1f{}]{0,' + str(MAX_ANSWER_CHARS - 1) + "}$"


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


REPLY_TOKENS = 160  # the reply slot's budget; the decoder closes the JSON inside it


def _title(hit: Hit) -> str:
    return Path(hit.path).name


@dataclass(frozen=True)
class AskOptions:
    k: int = 5
    template: str = "qa"
    log: bool = True
    mode: str = "generative"
    beams: int = 1


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
        program = load_program(options.template)
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
        variables = _variables(found)
        if options.mode == "extractive":
            variables["candidates"] = extractive.candidates(found.vector, found.hits, embedder)
        if options.beams > 1:
            from docqa.guide.beams import run_beams

            result = run_beams(program, llm, variables, options.beams)[0].result
        else:
            result = program.run(llm, variables)
        reply = _reply(result)
        record.update(
            prompt=result.text,
            raw_output=json.dumps(reply, ensure_ascii=False),
            prompt_tokens=result.tokens["prompt"],
            completion_tokens=result.tokens["completion"],
        )
        steps.append(
            {
                "stage": "prompt",
                "seconds": result.timings["template"],
                "data": {
                    "template": program.label,
                    "sha256": hashlib.sha256(result.text.encode()).hexdigest(),
                    "schema": variables["schema"],
                },
            }
        )
        steps.append(
            {
                "stage": "generate",
                "seconds": result.timings["generate"],
                "data": {"tokens": result.tokens, "slots": result.slot_records()},
            }
        )
        answer_text, answerable, numbers = parse_reply(reply)
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
        "prompt": result.timings["template"],
        "generate": result.timings["generate"],
    }
    timings["total"] = time.perf_counter() - started
    tokens = dict(result.tokens)
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
        template=program.label,
        timings=timings,
        tokens=tokens,
    )


def _variables(found: SearchResult) -> dict:
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
    return {
        "question": found.question,
        "sources": sources,
        "max_citations": MAX_CITATIONS,
        "schema": answer_schema(len(found.hits)),
        "reply_tokens": REPLY_TOKENS,
    }


def _reply(result: ProgramResult) -> dict:
    """The reply a template produced: one `reply` slot holding the JSON object, a `sentence`
    slot (extractive), or separate `answer`, `citations` and `answerable` slots."""
    if isinstance(result.slots.get("sentence"), str):
        return extractive.reply_from_choice(result.slots["sentence"])  # type: ignore[arg-type]
    if isinstance(result.slots.get("reply"), dict):
        return dict(result.slots["reply"])  # type: ignore[arg-type]
    if "answer" in result.slots:
        reply: dict = {"answer": result.slots["answer"]}
        cites = result.slots.get("citations", [])
        if isinstance(cites, str):
            cites = [int(x) for x in re.findall(r"\d+", cites)]
        reply["citations"] = cites
        answerable = result.slots.get("answerable", True)
        reply["answerable"] = (
            answerable
            if isinstance(answerable, bool)
            else str(answerable).strip().lower() in ("true", "yes")
        )
        return reply
    raise GenerationError(
        "the template filled no `reply` slot (nor `answer`): an ask template must produce one"
    )


def parse_reply(reply: dict) -> tuple[str, bool, list[int]]:
    """(answer, answerable, citation numbers) from the model's reply."""
    try:
        answer = str(reply["answer"]).strip()
        answerable = bool(reply.get("answerable", True))
        numbers: list[int] = []
        for n in reply.get("citations") or []:
            if isinstance(n, int) and not isinstance(n, bool) and n not in numbers:
                numbers.append(n)
    except (KeyError, TypeError) as exc:
        raise GenerationError(f"the model's reply lacks a field: {exc}") from exc
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
