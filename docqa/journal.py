"""The journal of an answer: one record per kind of step a question goes through, the
interaction's opening and outcome, how each is written as JSON and read back, and the
recorder the ask flow writes them with.

A question's steps, in order: `features` (who asks), `embed`, `retrieve`, `guard`, then per
attempt `rewrite` (from the second one), `retrieve` again after a rewrite, `prompt`,
`generate` and `validate`, and last `answer`. `docqa trace` shows them, `docqa monitor report`
reads retrievals and validations. Field names are part of the CLI contract (`trace --json`):
extend them, never rename. A record read back from the store remembers the keys it was
stored with (`AsRead`), so `trace --json` shows an older docqa's record exactly as it was
written: no key dropped, none invented; its fields this docqa lacks read as their defaults.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from docqa.contract import attempt_json
from docqa.records import Attempt, Hit

if TYPE_CHECKING:
    from docqa.store.journal import Journal

# the interaction columns that hold JSON (the rest are plain values)
JSON_COLUMNS = ("citations", "timings", "flags")


@dataclass(frozen=True)
class AsRead:
    """The keys a record was stored with, in order, and the values of those this docqa has
    no field for (written by an older or newer docqa)."""

    keys: tuple[str, ...]
    extra: dict


def _read_field():
    return field(default=None, compare=False, repr=False, kw_only=True)


@functools.cache
def _names(cls: type) -> tuple[str, ...]:
    """A record class's field names, in order (`read` aside): looked up once per class, as
    the monitor reads thousands of records."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.name != "read")


def _fields(record) -> tuple[str, ...]:
    return _names(type(record))


@functools.cache
def _name_set(cls: type) -> frozenset[str]:
    return frozenset(_names(cls))


def _split(cls, data: dict, written: tuple[str, ...] | None = None) -> tuple[dict, AsRead | None]:
    """(the values of `cls`'s fields, what the stored record looked like: None when it has
    the keys this docqa writes, `written` (default: every field), in their order)."""
    if tuple(data) == (written or _names(cls)):
        return dict(data), None
    names, known, extra = _name_set(cls), {}, {}
    for k, v in data.items():
        (known if k in names else extra)[k] = v
    return known, AsRead(tuple(data), extra)


def _as_read(read: AsRead | None, full: dict) -> dict:
    """`full` (every field) as the record was stored: its keys, in its order."""
    if read is None:  # made by this docqa
        return full
    return {k: full[k] if k in full else read.extra[k] for k in read.keys}


@dataclass(frozen=True)
class StepData:
    """What one step records; each kind names its stage."""

    stage: ClassVar[str] = ""
    read: AsRead | None = _read_field()  # how it was stored (None: made here)

    def to_json(self) -> dict:
        full = {name: _plain(getattr(self, name)) for name in _fields(self)}
        return _as_read(self.read, full)

    @classmethod
    def from_json(cls, data: dict) -> StepData:
        known, read = _split(cls, data)
        return cls(**known, read=read)


@dataclass(frozen=True)
class Features(StepData):
    """Who asked: the profile's name, features and groups."""

    stage: ClassVar[str] = "features"
    user: str | None = None
    features: dict = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Embed(StepData):
    stage: ClassVar[str] = "embed"
    dimension: int | None = None


@dataclass(frozen=True)
class Source:
    """Where a retrieved chunk is, resolved when a trace is read (None: the chunk is gone,
    or the viewer may not read it)."""

    path: str | None = None
    where: str | None = None
    heading: str | None = None
    text: str | None = None


# what a trace adds to a stored hit (docqa.flows.trace)
_SHOWN = frozenset(("path", "where", "heading", "text", "available"))


@dataclass(frozen=True)
class RetrievedHit:
    """One retrieved chunk, by id, with the scores that ranked it (docqa.flows.retrieve)."""

    chunk_id: int
    score: float | None = None
    dense_score: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None
    sentence_score: float | None = None
    lexical_score: float | None = None
    document_score: float | None = None
    sentence: list[int] | None = None  # the best sentence's span in the chunk's text
    source: Source | None = None  # filled in by docqa.flows.trace
    available: bool | None = None  # whether `source` could be resolved for the viewer
    read: AsRead | None = _read_field()  # how it was stored (None: made here)

    @classmethod
    def of(cls, hit: Hit) -> RetrievedHit:
        scores = {n: getattr(hit, n) for n in _SCORES}
        return cls(hit.chunk_id, **scores, sentence=list(hit.sentence) if hit.sentence else None)

    def scores(self) -> dict:
        """The score fields, as the store's Hit takes them."""
        out = {n: getattr(self, n) for n in _SCORES}
        out["sentence"] = tuple(self.sentence) if self.sentence else None
        return out

    def to_json(self) -> dict:
        out = {n: getattr(self, n) for n in _fields(self) if n not in ("source", "available")}
        out = _as_read(self.read, out)
        if self.available is not None:  # a resolved hit: where it is, or that it is not
            source = self.source or Source()
            if self.available:
                out.update(dataclasses.asdict(source))
            else:
                out.update(path=None, text=None)
            out["available"] = self.available
        return out

    @classmethod
    def from_json(cls, data: dict) -> RetrievedHit:
        """A hit as stored, or (with `available`) as a trace shows it."""
        available = data.get("available")
        stored = data if available is None else {k: v for k, v in data.items() if k not in _SHOWN}
        found, read = _split(cls, stored, _STORED)
        source = None
        if available:
            source = Source(data.get("path"), data.get("where"), data.get("heading"), data["text"])
        return cls(**found, source=source, available=available, read=read)


# a hit's keys as ask stores them, and of those the scores (named as in records.Hit)
_STORED = tuple(n for n in _names(RetrievedHit) if n not in ("source", "available"))
_SCORES = tuple(n for n in _STORED if n not in ("chunk_id", "sentence"))


@dataclass(frozen=True)
class Retrieve(StepData):
    """One retrieval: every query searched, and the hits in their order."""

    stage: ClassVar[str] = "retrieve"
    attempt: int | None = None
    queries: list[str] = field(default_factory=list)
    hits: tuple[RetrievedHit, ...] = ()

    @classmethod
    def from_json(cls, data: dict) -> Retrieve:
        known, read = _split(cls, data)
        known["hits"] = tuple(RetrievedHit.from_json(h) for h in known.get("hits", []))
        return cls(**known, read=read)


@dataclass(frozen=True)
class Guard(StepData):
    """The inline guards' verdicts on the question (docqa.flows.guards)."""

    stage: ClassVar[str] = "guard"
    flags: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Rewrite(StepData):
    """The model's search query for a second retrieval (templates/rewrite.j2)."""

    stage: ClassVar[str] = "rewrite"
    attempt: int | None = None
    query: str = ""
    tokens: dict = field(default_factory=dict)
    slots: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Prompt(StepData):
    """The rendered prompt of one attempt."""

    stage: ClassVar[str] = "prompt"
    attempt: int | None = None
    template: str | None = None
    sha256: str = ""
    schema: dict | None = None
    text: str = ""


@dataclass(frozen=True)
class Generate(StepData):
    """The model's work in one attempt: tokens, and each slot's constraint and value."""

    stage: ClassVar[str] = "generate"
    attempt: int | None = None
    tokens: dict = field(default_factory=dict)
    slots: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Validate(StepData):
    """One attempt as the validators judged it (the answer's `attempts` entries), and what
    the loop does next."""

    stage: ClassVar[str] = "validate"
    attempt: int | None = None
    strategy: str = ""
    template: str = ""
    queries: list[str] = field(default_factory=list)
    answer: str = ""
    answerable: bool = False
    citations: list[int] = field(default_factory=list)
    cited: list[dict] = field(default_factory=list)
    passed: bool = False
    reason: str = ""
    verdicts: dict = field(default_factory=dict)
    grounding: dict = field(default_factory=dict)
    seconds: float | None = None
    tokens: dict = field(default_factory=dict)
    next: str | None = None  # "final", or the next attempt's strategy

    @classmethod
    def of(cls, attempt: Attempt, following: str) -> Validate:
        return cls(**attempt_json(attempt), next=following)


@dataclass(frozen=True)
class AnswerStep(StepData):
    """The outcome: the final status, the attempt it came from, the citations kept."""

    stage: ClassVar[str] = "answer"
    status: str = ""
    attempt: int | None = None
    citations: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Unknown(StepData):
    """A step of a kind this docqa does not know (written by a newer one): kept as it is."""

    kind: str = ""
    data: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return dict(self.data)


KINDS: dict[str, type[StepData]] = {
    k.stage: k
    for k in (Features, Embed, Retrieve, Guard, Rewrite, Prompt, Generate, Validate, AnswerStep)
}


def stage_of(data: StepData) -> str:
    return data.kind if isinstance(data, Unknown) else data.stage


def read_data(stage: str, data: dict) -> StepData:
    kind = KINDS.get(stage)
    return Unknown(stage, dict(data)) if kind is None else kind.from_json(data)


@dataclass(frozen=True)
class Step:
    """One recorded step: its place in the interaction, its stage's time, what it recorded."""

    data: StepData
    seconds: float | None = None
    seq: int | None = None

    @property
    def stage(self) -> str:
        return stage_of(self.data)

    def to_json(self) -> dict:
        return {
            "seq": self.seq,
            "stage": self.stage,
            "seconds": self.seconds,
            "data": self.data.to_json(),
        }


@dataclass(frozen=True)
class Opening:
    """The interaction row written when a question arrives (status "running")."""

    question: str
    kind: str = "ask"
    user: str | None = None
    session: str | None = None
    turn: int | None = None
    mode: str | None = None
    template: str | None = None
    model: str | None = None
    embedder: str | None = None
    k: int | None = None
    question_embedding: bytes | None = None

    def row(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Outcome:
    """What an interaction ended with; fields left None are not written."""

    status: str
    answer: str | None = None
    answerable: int | None = None
    citations: list[dict] | None = None  # {"n", "chunk_id"} of each citation kept
    timings: dict | None = None
    seconds: float | None = None
    prompt: str | None = None
    raw_output: str | None = None  # every attempt's answer, as JSON
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    completion_tokens: int | None = None
    attempts: int | None = None
    groundedness: float | None = None
    flags: dict | None = None
    outlier_score: float | None = None
    error: str | None = None

    def row(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


class Recorder:
    """Writes one interaction as it happens: its opening, each step, its outcome (or
    nothing at all, with --no-log)."""

    def __init__(self, journal: Journal, enabled: bool = True):
        self.journal, self.enabled, self.id = journal, enabled, None

    def begin(self, opening: Opening) -> None:
        if self.enabled:
            self.id = self.journal.begin(opening.row())

    def step(self, data: StepData, seconds: float = 0.0) -> None:
        if self.id is not None:
            self.journal.add_step(self.id, Step(data, seconds))

    def finish(self, outcome: Outcome) -> None:
        if self.id is not None:
            self.journal.finish(self.id, outcome.row())


def _plain(value: Any) -> Any:
    """A field's value as JSON holds it: tuples as lists, records as their JSON."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value.to_json() if hasattr(value, "to_json") else value


@dataclass(frozen=True)
class Trace:
    """How one answer came about: the interaction's row (JSON columns decoded) and its
    steps, retrieved chunks resolved for the viewer."""

    interaction: dict
    steps: tuple[Step, ...]
    feedback: tuple[dict, ...] = ()  # the verdicts people gave it (store.feedback), newest first
