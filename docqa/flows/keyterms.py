"""The key terms of an answer: the values a reader copies (a number, a setting, a command, an
option, an SQL keyword). Groundedness checks them against the sources shown as it checks
numbers and names (docqa.flows.groundedness: facts, missing_terms).

A small reader's wrong answers are often fluent sentences about the right topic with a value
of its own making ("use the --enable-checksums option" where the manual says
--data-checksums; "io_method defaults to ..." about a setting the documents never name). The
sentence is close to a source sentence, so similarity alone passes it; the value is nowhere
in the sources.
"""

from __future__ import annotations

import re

# one candidate term: a run of characters that can make up a value, a name or an option
_TERM = re.compile(r"(?<![\w-])-{0,2}[\w][\w.,:/%-]*[\w%]|(?<![\w-])-{1,2}\w|\b\w\b")
_DIGIT = re.compile(r"\d")
_IDENT = re.compile(r"[_.]|^-|\w\(\)")  # snake_case, dotted.names, -o/--options
_UPPER = re.compile(r"^[A-Z][A-Z0-9_]+$")  # SQL keywords and constants: ACCESS, BRIN, UTC
_QUOTED = re.compile(r"`([^`]+)`|'([^'\s][^']*)'|\"([^\"\s][^\"]*)\"")
# capitalised words that are English, not values, at the start of an answer or anywhere
_COMMON = {"A", "I", "OK", "IT", "IS", "NO", "YES", "NOT", "AND", "OR", "THE", "TO", "IN"}
_ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "cf"}


def key_terms(answer: str) -> list[str]:
    """The terms of the answer that a reader would copy as they are: quoted or backticked
    text, numbers, identifiers (snake_case, dotted, with parentheses), command-line options,
    upper-case keywords. In the order they occur, without repeats."""
    terms: list[str] = []
    for match in _QUOTED.finditer(answer):
        terms.append(next(g for g in match.groups() if g))
    for match in _TERM.finditer(answer):
        term = match.group(0).rstrip(".,:")
        if not term or term in _COMMON or term.lower() in _ABBREVIATIONS:
            continue
        if _DIGIT.search(term) or _IDENT.search(term) or _UPPER.match(term):
            terms.append(term)
    return list(dict.fromkeys(t.strip() for t in terms if t.strip()))
