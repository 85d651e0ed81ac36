"""A slot's constraint as a GBNF grammar, the constraint language of llama.cpp's servers
(llama-server and llama-cpp-python's `llama_cpp.server` take it as `grammar`).

Locally docqa holds slots to llguidance grammars (docqa.guide.slots); a server is sent the
same language in GBNF. JSON schemas go through llama-cpp-python's own converter, with two
changes that make it match the local grammar: JSON is compact (no free white space), and
string patterns are translated by `regex_rule` below, which understands `\\w`, `\\d` and `\\s`
and writes bounded repetition as GBNF's `{m,n}`. A construct GBNF cannot express
(look-around, backreferences) is refused with TemplateError, as llguidance refuses it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from re import _constants as c  # the regex syntax tree's opcodes (Python 3.11+)
from re import _parser  # Python's own regex parser: the tree this module translates

from docqa.errors import TemplateError
from docqa.guide.slots import Slot

# what \d, \w and \s match inside GBNF character classes (ASCII; Python's and llguidance's
# \w also match non-ASCII letters). llama.cpp's parser knows only the escapes \x \u \U \t
# \r \n \\ \" \[ \]: anything else is written as \xNN.
_CATEGORIES = {"DIGIT": "0-9", "WORD": "0-9A-Za-z_", "SPACE": "\\x20\\t\\n\\r\\x0C\\x0B"}
# inside a JSON string a pattern may not reach a quote, a backslash or a control character
# (they would end or break the string): these are taken out of `.` and of negated classes
_JSON_UNSAFE = '"\\\\\\x00-\\x1F'


def slot_grammar(slot: Slot) -> str | None:
    """The GBNF grammar for the slot's value; None for free text."""
    if slot.choices is not None:
        return "root ::= " + " | ".join(_literal(c) for c in slot.choices) + "\n"
    if slot.regex is not None:
        return f"root ::= {regex_rule(slot.regex)}\n"
    if slot.schema_json is not None:
        return schema_grammar(json.loads(slot.schema_json))
    return None


def schema_grammar(schema: dict) -> str:
    """Compact JSON matching the schema, as GBNF."""
    from llama_cpp.llama_grammar import SchemaConverter

    class Converter(SchemaConverter):
        def _visit_pattern(self, pattern: str, name: str) -> str:
            body = regex_rule(pattern.removeprefix("^").removesuffix("$"), json_string=True)
            return self._add_rule(name, f'"\\"" {body} "\\"" space')

    converter = Converter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    try:
        converter.visit(converter.resolve_refs(schema, "schema"), "")
    except (AssertionError, ValueError, KeyError, TypeError, NotImplementedError) as exc:
        raise TemplateError(f"the schema cannot be sent to the server as a grammar: {exc}") from exc
    rules = dict(converter._rules)
    rules["space"] = '""'  # compact JSON, as the local decoder writes it
    return "".join(f"{name} ::= {rule}\n" for name, rule in sorted(rules.items()))


@dataclass(frozen=True)
class _Context:
    pattern: str
    dotall: bool = False
    json_string: bool = False  # the value sits inside a JSON string (a schema's "pattern")

    def refuse(self, what: str) -> TemplateError:
        return TemplateError(f"the regex {self.pattern!r} {what}")


def regex_rule(pattern: str, json_string: bool = False) -> str:
    """A GBNF expression matching exactly what the regex fully matches (inside a JSON string
    when `json_string`: no quote, backslash or control character may appear)."""
    try:
        tree = _parser.parse(pattern)
    except re.error as exc:
        raise TemplateError(f"invalid regex {pattern!r}: {exc}") from exc
    ctx = _Context(pattern, bool(tree.state.flags & re.DOTALL), json_string)
    if tree.state.flags & re.IGNORECASE:
        raise ctx.refuse("ignores case, which GBNF cannot express")
    return _sequence(list(tree), ctx)


def _sequence(items: list, ctx: _Context) -> str:
    parts = [p for p in (_item(op, av, ctx) for op, av in items) if p]
    if not parts:
        return '""'
    return parts[0] if len(parts) == 1 else "(" + " ".join(parts) + ")"


def _item(op, av, ctx: _Context) -> str:
    if op is c.LITERAL:
        return _literal(_safe(chr(av), ctx))
    if op is c.NOT_LITERAL:
        return _class([(c.NEGATE, None), (c.LITERAL, av)], ctx)
    if op is c.ANY:
        if ctx.json_string:
            return f"[^{_JSON_UNSAFE}]"
        return "[\\x00-\\U0010FFFF]" if ctx.dotall else "[^\\n]"
    if op is c.IN:
        return _class(av, ctx)
    if op is c.CATEGORY:
        return _class([(c.CATEGORY, av)], ctx)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        low, high, sub = av
        inner = _sequence(list(sub), ctx)
        if (low, high) == (0, c.MAXREPEAT):
            return f"{inner}*"
        if (low, high) == (1, c.MAXREPEAT):
            return f"{inner}+"
        if (low, high) == (0, 1):
            return f"{inner}?"
        return f"{inner}{{{low},{'' if high == c.MAXREPEAT else high}}}"
    if op is c.SUBPATTERN:  # (group, flags added, flags removed, items): (?s:...) scopes DOTALL
        _, added, removed, sub = av
        if added & re.IGNORECASE:
            raise ctx.refuse("ignores case, which GBNF cannot express")
        dotall = (ctx.dotall or bool(added & re.DOTALL)) and not removed & re.DOTALL
        return _sequence(list(sub), _Context(ctx.pattern, dotall, ctx.json_string))
    if op is c.BRANCH:
        return "(" + " | ".join(_sequence(list(b), ctx) for b in av[1]) + ")"
    if op is c.AT and av in (c.AT_BEGINNING, c.AT_BEGINNING_STRING, c.AT_END, c.AT_END_STRING):
        return ""  # a slot's value is matched whole: anchors add nothing
    raise ctx.refuse(f"uses {op.name.lower()}, which GBNF cannot express")


def _class(items, ctx: _Context) -> str:
    negate, parts = False, []
    for op, av in items:
        if op is c.NEGATE:
            negate = True
        elif op is c.LITERAL:
            parts.append(_class_char(chr(av)))
        elif op is c.RANGE:
            parts.append(f"{_class_char(chr(av[0]))}-{_class_char(chr(av[1]))}")
        elif op is c.CATEGORY and av.name.removeprefix("CATEGORY_") in _CATEGORIES:
            parts.append(_CATEGORIES[av.name.removeprefix("CATEGORY_")])
        elif op is c.CATEGORY and av.name.removeprefix("CATEGORY_NOT_") in _CATEGORIES:
            if len(items) > 1:
                raise ctx.refuse("negates a class inside a class, which GBNF cannot express")
            negate, parts = True, [_CATEGORIES[av.name.removeprefix("CATEGORY_NOT_")]]
        else:
            raise ctx.refuse("uses a class GBNF cannot express")
    if ctx.json_string and negate:
        parts.append(_JSON_UNSAFE)
    elif ctx.json_string and any(_json_unsafe(op, av) for op, av in items):
        raise ctx.refuse("allows a quote, backslash or control character inside a JSON string")
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _json_unsafe(op, av) -> bool:
    """Whether a positive class item can match a quote, a backslash or a control character."""
    if op is c.LITERAL:
        return av in (0x22, 0x5C) or av < 0x20
    if op is c.RANGE:
        low, high = av
        return low < 0x20 or low <= 0x22 <= high or low <= 0x5C <= high
    return op is c.CATEGORY and av.name == "CATEGORY_SPACE"


def _safe(ch: str, ctx: _Context) -> str:
    if ctx.json_string and (ch in '"\\' or ord(ch) < 0x20):
        raise ctx.refuse("has a quote, backslash or control character in a JSON string")
    return ch


def _class_char(ch: str) -> str:
    if ch in "[]\\^-" or not ch.isprintable() or ch.isspace():
        return _escape(ch)
    return ch


def _literal(text: str) -> str:
    body = "".join(_escape(ch) if ch in '"\\' or not ch.isprintable() else ch for ch in text)
    return '"' + body + '"'


def _escape(ch: str) -> str:
    """A character as llama.cpp's GBNF parser reads it."""
    if ch in '"\\[]':
        return "\\" + ch
    if ch in "\t\n\r":
        return {"\t": "\\t", "\n": "\\n", "\r": "\\r"}[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02X}"
    if code < 0x10000:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"
