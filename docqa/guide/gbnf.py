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

from docqa.errors import TemplateError
from docqa.guide.slots import Slot

# what \d, \w and \s match inside GBNF character classes (ASCII; Python's and llguidance's
# \w also match non-ASCII letters)
_CATEGORIES = {"DIGIT": "0-9", "WORD": "0-9A-Za-z_", "SPACE": " \\t\\n\\r\\f\\v"}


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
            body = regex_rule(pattern.removeprefix("^").removesuffix("$"))
            return self._add_rule(name, f'"\\"" {body} "\\"" space')

    converter = Converter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    try:
        converter.visit(converter.resolve_refs(schema, "schema"), "")
    except (AssertionError, ValueError, KeyError, TypeError, NotImplementedError) as exc:
        raise TemplateError(f"the schema cannot be sent to the server as a grammar: {exc}") from exc
    rules = dict(converter._rules)
    rules["space"] = '""'  # compact JSON, as the local decoder writes it
    return "".join(f"{name} ::= {rule}\n" for name, rule in sorted(rules.items()))


def regex_rule(pattern: str) -> str:
    """A GBNF expression matching exactly what the regex fully matches."""
    try:
        from re import _parser as sre_parse  # type: ignore[attr-defined]
    except ImportError:  # Python < 3.11
        import sre_parse  # type: ignore[no-redef]
    try:
        tree = sre_parse.parse(pattern)
    except re.error as exc:
        raise TemplateError(f"invalid regex {pattern!r}: {exc}") from exc
    return _sequence(list(tree), pattern, dotall=bool(tree.state.flags & re.DOTALL))


def _sequence(items: list, pattern: str, dotall: bool) -> str:
    parts = [_item(op, av, pattern, dotall) for op, av in items]
    parts = [p for p in parts if p]
    if not parts:
        return '""'
    return parts[0] if len(parts) == 1 else "(" + " ".join(parts) + ")"


def _item(op, av, pattern: str, dotall: bool) -> str:
    import re._constants as c  # type: ignore[import-not-found]

    if op is c.LITERAL:
        return _literal(chr(av))
    if op is c.NOT_LITERAL:
        return f"[^{_class_char(chr(av))}]"
    if op is c.ANY:
        return "[\\x00-\\U0010FFFF]" if dotall else "[^\\n]"
    if op is c.IN:
        return _class(av, pattern)
    if op is c.CATEGORY:
        return _class([(c.CATEGORY, av)], pattern)
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        low, high, sub = av
        inner = _sequence(list(sub), pattern, dotall)
        if (low, high) == (0, c.MAXREPEAT):
            return f"{inner}*"
        if (low, high) == (1, c.MAXREPEAT):
            return f"{inner}+"
        if (low, high) == (0, 1):
            return f"{inner}?"
        return f"{inner}{{{low},{'' if high == c.MAXREPEAT else high}}}"
    if op is c.SUBPATTERN:  # (group, flags added, flags removed, items): (?s:...) scopes DOTALL
        _, added, removed, sub = av
        scoped = (dotall or bool(added & re.DOTALL)) and not removed & re.DOTALL
        return _sequence(list(sub), pattern, scoped)
    if op is c.BRANCH:
        return "(" + " | ".join(_sequence(list(b), pattern, dotall) for b in av[1]) + ")"
    if op is c.AT and av in (c.AT_BEGINNING, c.AT_BEGINNING_STRING, c.AT_END, c.AT_END_STRING):
        return ""  # a slot's value is matched whole: anchors add nothing
    raise TemplateError(f"the regex {pattern!r} uses {op.name.lower()}, which GBNF cannot express")


def _class(items, pattern: str) -> str:
    import re._constants as c  # type: ignore[import-not-found]

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
                raise TemplateError(
                    f"the regex {pattern!r} negates a class inside a class, which GBNF cannot "
                    "express"
                )
            negate, parts = True, [_CATEGORIES[av.name.removeprefix("CATEGORY_NOT_")]]
        else:
            raise TemplateError(f"the regex {pattern!r} uses a class GBNF cannot express")
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _class_char(ch: str) -> str:
    if ch in "]\\^-" or not ch.isprintable() or ch.isspace():
        return _escape(ch)
    return ch


def _literal(text: str) -> str:
    return (
        '"'
        + "".join(_escape(ch) if ch in '"\\' or not ch.isprintable() else ch for ch in text)
        + '"'
    )


def _escape(ch: str) -> str:
    if ch in '"\\]^-[':
        return "\\" + ch
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02X}"
    if code < 0x10000:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"
