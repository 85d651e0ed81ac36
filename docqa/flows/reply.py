"""The reply an ask template must produce: its JSON schema, and reading it back."""

from __future__ import annotations

import json
import re

from docqa.errors import GenerationError
from docqa.flows import extractive
from docqa.flows.responsive import refuses
from docqa.guide.program import ProgramResult

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


def answer_so_far(slot: str, text: str) -> str | None:
    """The answer in a slot's text while the model is still writing it: the `answer` field of
    a `reply` JSON object, decoded as far as it has come, or an `answer` slot's text; None
    for a slot that holds no answer."""
    if slot == "answer":
        return text
    if slot != "reply":
        return None
    opened = _ANSWER_FIELD.search(text)
    if opened is None:
        return ""
    body, end = text[opened.end() :], 0
    while end < len(body) and body[end] != '"':
        end += 2 if body[end] == "\\" else 1
    body = body[: min(end, len(body))]
    for cut in range(len(body), max(len(body) - 6, 0) - 1, -1):  # an escape cut in half
        try:
            return json.loads(f'"{body[:cut]}"')
        except ValueError:
            continue
    return ""


_ANSWER_FIELD = re.compile(r'"answer"\s*:\s*"')


def reply_of(result: ProgramResult) -> dict:
    """The reply a template produced: one `reply` slot holding the JSON object, a `sentence`
    slot (extractive), or separate `answer`, `citations` and `answerable` slots."""
    if isinstance(result.slots.get("sentence"), str):
        return extractive.reply_from_choice(result.slots["sentence"])  # type: ignore[arg-type]
    if isinstance(result.slots.get("reply"), dict):
        return dict(result.slots["reply"])  # type: ignore[arg-type]
    if "answer" in result.slots:
        reply: dict = {"answer": str(result.slots["answer"]).strip()}
        support = str(result.slots.get("support") or "").strip()
        if support:  # the shortest answer first, then the sentence that says it
            reply["answer"] = f"{reply['answer']} — {support}"
        cites = result.slots.get("citations", [])
        if isinstance(cites, str):
            cites = [int(x) for x in re.findall(r"\d+", cites)]
        reply["citations"] = cites
        # no `answerable` slot: an answer that says the sources do not answer is a refusal
        answerable = result.slots.get("answerable", not refuses(str(reply["answer"])))
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
    if not answerable and answer and answer != extractive.NOT_FOUND and not refuses(answer):
        # an answer the model wrote but flagged unanswerable ("No, SET ROLE does not keep
        # superuser rights.", flagged false) is judged by the checks, like any other
        answerable = True
    if not answerable:
        numbers = []
    return answer, answerable, numbers
