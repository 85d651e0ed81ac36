"""Slots: what a template asks the model to fill, and the grammar that holds each one.

A slot is a value object, built once and handed to the decoder. Its grammar is an llguidance
grammar (Lark syntax); free-text slots have none and cost no masking at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from docqa.errors import TemplateError

# Compact JSON: no free whitespace, so the model cannot spend its budget on blank space.
JSON_OPTIONS = {"whitespace_flexible": False}


@dataclass(frozen=True)
class Slot:
    name: str
    max_tokens: int = 64
    stop: tuple[str, ...] = ()
    regex: str | None = None
    choices: tuple[str, ...] | None = None
    schema_json: str | None = None  # the JSON schema, serialised (keeps the slot hashable)
    temperature: float = 0.0
    beams: int = 1  # > 1: the slot's value is the best of a beam search of this width

    def __post_init__(self) -> None:
        kinds = sum(x is not None for x in (self.regex, self.choices, self.schema_json))
        if kinds > 1:
            raise TemplateError(f"slot {self.name!r}: give one of regex, choices or schema")
        if self.max_tokens < 1:
            raise TemplateError(f"slot {self.name!r}: max_tokens must be at least 1")
        if self.stop and kinds:
            raise TemplateError(
                f"slot {self.name!r}: stop= is for free text; a regex, choices or schema "
                "already says where the value ends"
            )
        if self.beams < 1:
            raise TemplateError(f"slot {self.name!r}: beams must be at least 1")
        if self.choices is not None and not self.choices:
            raise TemplateError(f"slot {self.name!r}: choices must not be empty")

    @property
    def kind(self) -> str:
        if self.schema_json is not None:
            return "schema"
        if self.choices is not None:
            return "choices"
        if self.regex is not None:
            return "regex"
        return "text"

    @property
    def schema(self) -> dict | None:
        return None if self.schema_json is None else json.loads(self.schema_json)

    def describe(self) -> dict:
        """The constraint, for records and traces."""
        out: dict = {"kind": self.kind, "max_tokens": self.max_tokens}
        if self.stop:
            out["stop"] = list(self.stop)
        if self.regex is not None:
            out["regex"] = self.regex
        if self.choices is not None:
            out["choices"] = list(self.choices)
        if self.schema_json is not None:
            out["schema"] = self.schema
        if self.beams > 1:
            out["beams"] = self.beams
        return out

    def lark_body(self) -> str | None:
        """The slot's constraint as a Lark expression; None for unconstrained text."""
        from llguidance import regex_to_lark

        if self.choices is not None:
            return "(" + " | ".join(_literal(c) for c in self.choices) + ")"
        if self.regex is not None:
            return "/" + regex_to_lark(self.regex) + "/"
        if self.schema_json is not None:
            schema = dict(self.schema or {})
            schema.setdefault("x-guidance", JSON_OPTIONS)
            return "%json " + json.dumps(schema)
        return None

    def grammar(self, prefix: str = "") -> str | None:
        """The llguidance grammar, optionally requiring `prefix` first (token healing)."""
        body = self.lark_body()
        if body is None and not prefix:
            return None
        if body is None:
            body = "/(?s:.*)/"
        head = _literal(prefix) + " " if prefix else ""
        return f"start: {head}{body}\n"


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def make_slot(
    name: str,
    *,
    max_tokens: int | None = None,
    stop: str | list[str] | tuple[str, ...] | None = None,
    regex: str | None = None,
    schema: dict | str | None = None,
    choices: list[str] | tuple[str, ...] | None = None,
    temperature: float = 0.0,
    beams: int = 1,
) -> Slot:
    """A Slot from template-style arguments, with sensible budgets by kind."""
    if not isinstance(name, str) or not name.isidentifier():
        raise TemplateError(f"a slot name must be an identifier, not {name!r}")
    if isinstance(stop, str):
        stop = (stop,)
    schema_json = None
    if schema is not None:
        try:
            schema_json = json.dumps(json.loads(schema) if isinstance(schema, str) else schema)
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"slot {name!r}: the schema is not valid JSON: {exc}") from exc
    if max_tokens is None:
        max_tokens = 256 if schema_json else 64
        if choices:
            max_tokens = max(8, max(len(c) for c in choices) + 2)
    slot = Slot(
        name=name,
        max_tokens=int(max_tokens),
        stop=tuple(stop or ()),
        regex=regex,
        choices=tuple(str(c) for c in choices) if choices is not None else None,
        schema_json=schema_json,
        temperature=float(temperature),
        beams=int(beams),
    )
    _check_grammar(slot)
    return slot


@lru_cache(maxsize=256)  # beam search runs a template again per beam: check each slot once
def _check_grammar(slot: Slot) -> None:
    """Refuse a regex or schema the constraint engine cannot compile, when the template
    runs, before any model is asked (llguidance's regexes are Rust's: no look-around, no
    backreferences)."""
    grammar = slot.grammar()
    if grammar is None:
        return
    from llguidance import LLMatcher

    error = LLMatcher.validate_grammar(grammar)
    if error:
        # "at 1(8): invalid regex "(" (in regex): regex parse error: ... error: unclosed group"
        lines = [ln.strip() for ln in error.splitlines() if ln.strip()]
        reason = next((ln[7:] for ln in lines if ln.startswith("error: ")), lines[0])
        reason = re.sub(r"^at \d+\(\d+\): ", "", reason)
        what = "regex" if slot.regex is not None else slot.kind
        raise TemplateError(f"slot {slot.name!r}: the {what} cannot be used: {reason}")
