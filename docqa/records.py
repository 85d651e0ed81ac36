"""The records that pass between layers: loaders, chunker, store, flows and the renderer.

Frozen dataclasses, no behaviour beyond small derived properties; the JSON shapes of the CLI
contract are built from them in docqa.contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Block:
    """A paragraph-like unit of a loaded document, with where it came from."""

    text: str
    line_start: int | None = None  # 1-based, inclusive (text formats)
    line_end: int | None = None
    page: int | None = None  # 1-based (PDF)
    heading: tuple[str, ...] = ()  # the heading path the block sits under
    is_heading: bool = False


@dataclass(frozen=True)
class LoadedDocument:
    path: str
    format: str
    title: str | None
    blocks: tuple[Block, ...]
    # the decoded file, for formats whose blocks hold a plain view of marked-up source
    # (docqa.ingest.markup): chunks keep their source lines from it
    source: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough for the embedder's window."""

    seq: int
    text: str
    n_tokens: int
    line_start: int | None = None
    line_end: int | None = None
    page: int | None = None
    heading: str = ""
    source: str | None = None  # the source lines of a marked-up chunk (None: same as text)


@dataclass(frozen=True)
class Sentences:
    """A chunk's sentences: character spans of its text, and one vector per span."""

    spans: list[tuple[int, int]]
    vectors: np.ndarray


@dataclass(frozen=True)
class PassageVectors:
    """What retrieval scores a chunk with: its vector, and its sentences' spans and vectors
    (None for a chunk stored before sentence vectors)."""

    vector: np.ndarray
    spans: tuple[tuple[int, int], ...]
    sentences: np.ndarray | None
    document_id: int = 0


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its scores."""

    chunk_id: int
    path: str
    text: str
    score: float  # the ranking score (docqa.flows.retrieve): higher is better
    heading: str = ""
    line_start: int | None = None
    line_end: int | None = None
    page: int | None = None
    dense_score: float | None = None  # cosine similarity, when found by the vector index
    dense_rank: int | None = None
    lexical_rank: int | None = None  # rank in the FTS5 (bm25) results, when found there
    sentence_score: float | None = None  # cosine similarity of the chunk's best sentence
    lexical_score: float | None = None  # bm25, as a fraction of the best lexical match's
    sentence: tuple[int, int] | None = None  # the best sentence's span in `text`
    document_score: float | None = None  # the best score among its document's candidates
    source: str | None = None  # the marked-up source lines `text` was read from, if any

    @property
    def lines(self) -> tuple[int, int] | None:
        if self.line_start is None:
            return None
        return (self.line_start, self.line_end if self.line_end is not None else self.line_start)

    @property
    def where(self) -> str:
        """Provenance for people: "lines 3-9" or "page 2"."""
        if self.page is not None:
            return f"page {self.page}"
        if self.lines:
            a, b = self.lines
            return f"line {a}" if a == b else f"lines {a}-{b}"
        return ""


@dataclass(frozen=True)
class SearchResult:
    question: str
    hits: tuple[Hit, ...]
    timings: dict[str, float] = field(default_factory=dict)  # embed, retrieve (seconds)
    vector: object = None  # the question's embedding (numpy float32), for the record
    queries: tuple[str, ...] = ()  # every query searched (the question first)


@dataclass(frozen=True)
class Citation:
    n: int  # the source number the model saw, 1-based
    hit: Hit


@dataclass(frozen=True)
class SentenceSupport:
    """How well one sentence of an answer is supported (see docqa.flows.groundedness)."""

    text: str
    supported: bool
    how: str  # "verbatim" | "semantic" | "unsupported"
    score: float  # best cosine similarity to a cited source sentence
    threshold: float | None  # the 95th percentile of the unrelated null (None: no calibration)
    p: float | None  # empirical p-value against unrelated sources
    source: int | None  # the source number holding the nearest sentence
    nearest: str  # the nearest source sentence
    missing: tuple[str, ...] = ()  # facts absent from the cited sources

    def reason(self) -> str:
        if self.supported:
            return self.how
        if self.missing:
            return "not in the sources: " + ", ".join(self.missing)
        if self.p is None:
            return "too few unrelated sentences to calibrate against"
        return f"similarity {self.score:.2f} is within chance (p = {self.p:.3f})"


@dataclass(frozen=True)
class Grounding:
    """The support of every sentence of an answer."""

    sentences: tuple[SentenceSupport, ...] = field(default_factory=tuple)

    @property
    def supported(self) -> int:
        return sum(s.supported for s in self.sentences)

    @property
    def score(self) -> float:
        """The share of answer sentences supported (0 for an empty answer)."""
        return self.supported / len(self.sentences) if self.sentences else 0.0

    @property
    def status(self) -> str:
        """ "grounded" (every sentence supported), "partial", or "ungrounded"."""
        if self.sentences and self.supported == len(self.sentences):
            return "grounded"
        return "partial" if self.supported else "ungrounded"

    def unsupported(self) -> list[SentenceSupport]:
        return [s for s in self.sentences if not s.supported]


@dataclass(frozen=True)
class Verdict:
    """One validator's judgement of an answer."""

    name: str  # "citations" | "grounded" | "answerable" | "answers"
    ok: bool
    reason: str


@dataclass(frozen=True)
class Attempt:
    """One pass of the answer loop: how the answer was sought and what the validators said."""

    n: int  # 1-based
    strategy: str  # "initial" | "rewrite" | "extractive"
    template: str
    queries: tuple[str, ...]
    answer: str
    answerable: bool  # the model's own claim
    citations: tuple[int, ...]
    verdicts: tuple[Verdict, ...]
    grounding: Grounding
    passed: bool
    seconds: float
    tokens: dict[str, int]
    hits: tuple[Hit, ...] = ()  # the sources this attempt was shown (citations number these)

    @property
    def cited(self) -> tuple[Hit, ...]:
        return tuple(self.hits[n - 1] for n in self.citations if 1 <= n <= len(self.hits))

    @property
    def reason(self) -> str:
        """Why the attempt failed ("" when it passed)."""
        return "; ".join(f"{v.name}: {v.reason}" for v in self.verdicts if not v.ok)


@dataclass(frozen=True)
class Answer:
    id: int | None  # the interaction id in the store; None with --no-log
    question: str
    answer: str
    answerable: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    status: str  # "grounded" | "partially_grounded" | "unanswerable" | "withheld"
    model: str
    template: str
    timings: dict[str, float]
    tokens: dict[str, int]
    attempts: tuple[Attempt, ...] = ()
    grounding: Grounding | None = None
    session: str | None = None
    turn: int | None = None
    flags: dict = field(default_factory=dict)  # the inline guards' verdicts
    flag_reasons: tuple[str, ...] = ()  # what the guards flagged, in words


@dataclass(frozen=True)
class FileFailure:
    path: str
    reason: str


@dataclass
class IngestReport:
    files_seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0  # files of a type docqa does not read, found while walking a folder
    failed: list[FileFailure] = field(default_factory=list)
    chunks_added: int = 0
    chunks_total: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    path: str
    format: str
    title: str | None
    sha256: str
    size: int
    chunks: int
    ingested_at: str
    groups: tuple[str, ...] = ()  # empty: public
    passages: int = 0  # the docqa.ingest.passages format its vectors were made with


@dataclass(frozen=True)
class Profile:
    """What docqa knows about the user asking: free features, and the groups whose
    documents they may read."""

    name: str | None  # None: the anonymous profile
    features: dict = field(default_factory=dict)  # key -> str | int | float | list[str]
    groups: tuple[str, ...] = ()

    def template_value(self) -> dict:
        """The `user` variable of templates."""
        return {"name": self.name, **self.features, "groups": list(self.groups)}


ANONYMOUS = Profile(None)
