"""Does an answer answer the question? Support by the sources is not enough: a sentence copied
from the right document can still say nothing the question asked for.

An answer is not an answer when it
- holds no information of the kind the question asks for: a year, date or version for
  "when was" / "what year", a number for "how many" / "what is the maximum number", a name
  for "who";
- restates the question: it has no word of substance the question lacks, inflections aside
  (a bare "Yes" or "No" included: the sources cannot confirm it);
- repeats itself ("built on internally on internally"), or is cut off (it ends on a word
  that cannot end a sentence, or at the length limit);
- says, in an answer marked answerable, that the sources do not answer, or only points to
  another part of them ("See Section 28.4.2 for details.").

Each rule is plain text matching, cheap on any machine; `problems` returns the reasons, none
for an answer that passes.

Before the rules, `tidy` mends the two faults of a small model's reply that lose nothing by
mending: a sentence said again word for word is dropped, and an answer cut off at the length
limit keeps its complete sentences ("... use the TRUNCATE command. For example, TRUNCATE
bigtable, fattable RESTART IDENTITY; Truncate the table othertable, and" keeps its first
sentence). What is left is judged like any answer.
"""

from __future__ import annotations

import re

from docqa.flows.context import words
from docqa.flows.groundedness import sentence_spans

MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
).split()
NUMBER_WORDS = frozenset(
    (
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
        "eighty ninety hundred thousand million billion trillion dozen half double twice once "
        "unlimited infinite none no single"
    ).split()
)
_TIME_Q = re.compile(
    r"^\s*(?:(?:and|so|but)\s+)?(?:when\s+(?:was|were|did|had)\b|(?:in\s+)?(?:what|which)\s+"
    r"(?:year|decade|century|date|month|day)\b|since\s+(?:when|what|which)\b|how\s+long\s+ago\b)"
    r"|\b(?:what|which)\s+(?:year|date)\b",
    re.I,
)
_NUMBER_Q = re.compile(
    r"\b(?:how\s+(?:many|much|long|far|big|large|tall|high|deep|wide|heavy|old|fast|often)\b"
    r"|what\s+(?:percentage|percent|proportion|fraction)\b"
    r"|(?:maximum|minimum|max|min|biggest|largest|smallest|longest|shortest|highest|lowest)"
    r"\s+(?:\w+\s+){0,2}(?:number|length|size|value|count|amount|limit)\b)",
    re.I,
)
_WHO_Q = re.compile(r"^\s*(?:(?:and|so|but)\s+)?who(?:m|se)?\b", re.I)
_DIGIT = re.compile(r"\d")
# a year, a date, a version ("9.5", "version 13", "PostgreSQL 15"), or a time span back
_WHEN = re.compile(
    r"\b(?:1\d{3}|2\d{3})s?\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d+\.\d+\b"
    r"|\b(?:version|release|v)\s*\d+|\b[A-Z][A-Za-z]+\s+\d+(?:\.\d+)?\b|\bago\b",
)
_TOKEN = re.compile(r"[\w'-]+")
_REFUSAL = re.compile(
    r"\b(?:do(?:es)? not (?:say|mention|contain|state|specify|provide)|not (?:mentioned|stated|"
    r"specified|provided|found) in|no information|i (?:do not|don't|cannot|can't) (?:know|find|"
    r"answer)|cannot be (?:determined|answered))\b",
    re.I,
)
# words a finished sentence does not end on
_DANGLING = frozenset(
    "a an the and or but of to in on at by for with from as that which who whose is are was "
    "were be been its their his her our your my this these those than then if when while "
    "because into onto about".split()
)


# words that open a sentence without being a name
_OPENERS = _DANGLING | frozenset("it he she they we i there here yes no".split())

_BARE = frozenset({"yes", "no"})
_POINTER = re.compile(
    r"^\s*(?:see|refer to)\s+(?:also\s+)?(?:section|chapter|appendix|part|table|figure)\s+"
    r"[\w.-]*\w(?:\s+(?:for|and|in|on)\b[^.]{0,40})?\.?\s*$",
    re.I,
)


def points_elsewhere(text: str) -> bool:
    """Whether an answer only sends the reader to another part of the documents ("See
    Section 28.4.2 for details.")."""
    return bool(_POINTER.match(text))


def refuses(answer: str) -> bool:
    """Whether the answer says the sources do not answer."""
    return bool(_REFUSAL.search(answer))


def expected_kind(question: str) -> str | None:
    """What kind of information the question asks for: "time", "number", "name", or None
    when the question does not say (why, how, what is, yes/no)."""
    if _TIME_Q.search(question):
        return "time"
    if _NUMBER_Q.search(question):
        return "number"
    if _WHO_Q.search(question):
        return "name"
    return None


def holds_kind(kind: str, question: str, answer: str) -> bool:
    tokens = [t.lower() for t in _TOKEN.findall(answer)]
    if kind == "time":
        return bool(_WHEN.search(answer)) or any(
            t in MONTHS or t.startswith(("centur", "decade")) for t in tokens
        )
    if kind == "number":
        return bool(_DIGIT.search(answer)) or any(t in NUMBER_WORDS for t in tokens)
    if kind == "name":
        asked = {t.lower() for t in _TOKEN.findall(question)}
        tokens = _TOKEN.findall(answer)
        # a capital is a name's, except a sentence's first word's: that one counts when it
        # is all the answer, or begins a name of several words ("Gustave Eiffel", not
        # "The Eiffel Tower")
        first = len(tokens) == 1 or (
            len(tokens) > 1 and tokens[1][:1].isupper() and tokens[0].lower() not in _OPENERS
        )
        names = [t for i, t in enumerate(tokens) if t[:1].isupper() and (i > 0 or first)]
        return any(n.lower() not in asked for n in names)
    return True


def repeats(answer: str) -> bool:
    """Whether a run of two to four words comes twice in a row ("on internally on
    internally"), or one word three times in a row."""
    tokens = [t.lower() for t in _TOKEN.findall(answer)]
    for n in (2, 3, 4):
        for i in range(len(tokens) - 2 * n + 1):
            if tokens[i : i + n] == tokens[i + n : i + 2 * n]:
                return True
    return any(tokens[i] == tokens[i + 1] == tokens[i + 2] for i in range(len(tokens) - 2))


def cut_off(answer: str, limit: int) -> bool:
    text = answer.rstrip()
    if len(text) >= limit - 1:
        return True
    if text.endswith((".", "!", "?", ")", '"', "'", "`", "%")):
        return False
    last = _TOKEN.findall(text)[-1:] or [""]
    return last[0].lower() in _DANGLING or text.endswith((",", ";", ":", "-", "("))


def stems(text: str) -> set[str]:
    """A text's words of substance, each without its inflection ("generates", "generated" and
    "generate" are one), so an answer that says the question back in other forms ("Yes, it
    nests.", asked whether BEGIN nests) is seen to add nothing."""
    return {_stem(w) for w in words(text)}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "e", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def tidy(answer: str, limit: int) -> str:
    """The answer without sentences said twice, and, when it is cut off, without the sentence
    the cut left unfinished (an answer with no complete sentence stays as it is)."""
    spans = sentence_spans(answer)
    kept, seen = [], set()
    for a, b in spans:
        key = " ".join(_TOKEN.findall(answer[a:b].lower()))
        if key not in seen:
            seen.add(key)
            kept.append((a, b))
    if len(kept) > 1 and cut_off(answer, limit):
        kept = kept[:-1]
    if len(kept) == len(spans):
        return answer
    return " ".join(answer[a:b] for a, b in kept)


def problems(question: str, answer: str, limit: int = 300) -> list[str]:
    """Why `answer` does not answer `question` (empty when it does, as far as these rules
    can tell)."""
    out = []
    if refuses(answer):
        out.append("it says the sources do not answer")
    if points_elsewhere(answer):
        out.append("it only points to another part of the documents")
    kind = expected_kind(question)
    if kind is not None and not holds_kind(kind, question, answer):
        what = {"time": "a year, date or version", "number": "a number", "name": "a name"}
        out.append(f"the question asks for {what[kind]} and the answer holds none")
    if not stems(answer) - stems(question) - _BARE:
        if words(answer) & _BARE:
            out.append("a bare yes or no, with nothing the sources can confirm")
        else:
            out.append("it only restates the question")
    if repeats(answer):
        out.append("it repeats itself")
    if cut_off(answer, limit):
        out.append("it is cut off")
    return out
