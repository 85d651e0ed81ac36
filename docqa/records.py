"""The records that pass between layers: loaders, chunker, store, flows and the renderer.

Frozen dataclasses, no behaviour beyond small derived properties; the JSON shapes of the CLI
contract are built from them in docqa.render.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its scores."""

    chunk_id: int
    path: str
    text: str
    score: float  # fused (reciprocal rank fusion) score: higher is better
    heading: str = ""
    line_start: int | None = None
    line_end: int | None = None
    page: int | None = None
    dense_score: float | None = None  # cosine similarity, when found by the vector index
    dense_rank: int | None = None
    lexical_rank: int | None = None  # rank in the FTS5 (bm25) results, when found there

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


@dataclass(frozen=True)
class Citation:
    n: int  # the source number the model saw, 1-based
    hit: Hit


@dataclass(frozen=True)
class Answer:
    id: int | None  # the interaction id in the store; None with --no-log
    question: str
    answer: str
    answerable: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    status: str  # "answered" | "unanswerable"
    model: str
    template: str
    timings: dict[str, float]
    tokens: dict[str, int]


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
