"""The ingest flow: files -> blocks -> chunks -> embeddings -> store and index, incrementally.

Files are grouped so the embedder sees large batches whatever the file sizes; each file's
replacement is one SQLite transaction, and the vector index is saved once at the end (a crash
before that only means the index is rebuilt from SQLite on the next open).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from docqa.adapters.protocols import Embedder
from docqa.errors import LoaderError
from docqa.flows.corpus import identity_of, open_index
from docqa.ingest.chunker import chunk_document
from docqa.ingest.loaders import format_of, load_document, read_bytes
from docqa.ingest.passages import PASSAGE_FORMAT, embedding_text, is_current, sentence_spans
from docqa.records import Chunk, FileFailure, IngestReport, Sentences
from docqa.store import Store

EMBED_BATCH = 64


class IngestProgress(Protocol):
    def begin(self, files: int) -> None: ...

    def advance(self, files: int = 0, chunks: int = 0) -> None: ...

    def end(self) -> None:
        """Every file is read and stored (pruning and saving the index follow)."""
        ...


class _Silent:
    def begin(self, files: int) -> None:
        pass

    def advance(self, files: int = 0, chunks: int = 0) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass
class _Pending:
    path: str
    format: str
    title: str | None
    sha256: str
    size: int
    mtime: float | None
    chunks: list[Chunk]
    existed: bool


def discover(paths: Sequence[Path], report: IngestReport) -> list[Path]:
    """The files to ingest: given files as they are, folders walked recursively.

    Hidden files and folders are left out of walks, as are files of types docqa does not
    read (counted as skipped); a missing path is a failure. Symbolic links to folders are
    not followed, so link loops cannot trap the walk.
    """
    found: list[Path] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            found.append(p)

    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith("."):
                        continue
                    file = Path(root) / name
                    if format_of(file) is None:
                        report.skipped += 1
                    else:
                        add(file)
        elif path.exists() or path.is_symlink():
            add(path)
        else:
            report.failed.append(FileFailure(str(path), "no such file or directory"))
    return found


def ingest(
    paths: Sequence[Path],
    *,
    store: Store,
    embedder: Embedder,
    index,
    max_tokens: int = 256,
    overlap: int = 32,
    prune: bool = False,
    batch_chunks: int = 512,
    progress: IngestProgress | None = None,
    groups: Sequence[str] | None = None,
    max_bytes: int | None = None,
    chunk_embedder=None,
    sentence_vectors: bool = True,
) -> IngestReport:
    """Add, update or skip each file found under `paths`; a file over `max_bytes` fails
    without being read. `groups` restricts the documents to those groups' members (also for
    unchanged files); None leaves stored documents' groups as they are and makes new ones
    public. The embedder chunks the text and embeds each chunk's sentences (unless
    `sentence_vectors` is off) and, unless `chunk_embedder` is given, the chunks too."""
    started = time.perf_counter()
    progress = progress or _Silent()
    report = IngestReport()
    chunks_by = chunk_embedder or embedder
    store.corpus.claim_embedder(identity_of(chunks_by), identity_of(embedder))
    open_index(store, index, chunks_by.dimension)
    max_tokens = min(max_tokens, embedder.max_tokens)
    embeddings = Embeddings(embedder, chunk_embedder, sentence_vectors)

    files = discover(paths, report)
    report.files_seen = len(files) + len(report.failed)
    progress.begin(len(files))
    pending: list[_Pending] = []
    pending_chunks = 0
    prepared = _prepare(
        files, store, embedder, max_tokens, overlap, report, progress, groups, max_bytes
    )
    for item in prepared:
        pending.append(item)
        pending_chunks += len(item.chunks)
        if pending_chunks >= batch_chunks:
            _flush(pending, store, embeddings, index, report, progress, groups)
            pending, pending_chunks = [], 0
    _flush(pending, store, embeddings, index, report, progress, groups)
    progress.end()

    if prune:
        for doc in store.corpus.documents():
            if not Path(doc.path).exists():
                index.remove(store.corpus.remove_document(doc.path))
                report.removed += 1
    index.save(store.corpus.fingerprint())
    report.chunks_total = store.corpus.chunk_count()
    report.seconds = time.perf_counter() - started
    return report


def _prepare(
    files: Iterable[Path],
    store: Store,
    embedder: Embedder,
    max_tokens: int,
    overlap: int,
    report: IngestReport,
    progress: IngestProgress,
    groups: Sequence[str] | None,
    max_bytes: int | None = None,
) -> Iterator[_Pending]:
    """Read, hash, load and chunk each file; unchanged files and failures end here."""
    for file in files:
        key = os.path.abspath(file)
        try:
            data = read_bytes(file, max_bytes)
            sha = hashlib.sha256(data).hexdigest()
            known = store.corpus.document(key)
            # unchanged, unless its vectors were made by an older passage format
            current = known is not None and is_current(known.format, known.passages)
            if known is not None and known.sha256 == sha and current:
                if groups is not None and tuple(sorted(set(groups))) != known.groups:
                    store.corpus.set_groups(key, groups)
                report.unchanged += 1
                progress.advance(files=1)
                continue
            doc = load_document(file, data)
            chunks = chunk_document(doc, embedder.tokenizer, max_tokens, overlap)
            if not chunks:
                raise LoaderError("no text found in the file")
            try:
                mtime = file.stat().st_mtime
            except OSError:
                mtime = None
        except LoaderError as exc:
            report.failed.append(FileFailure(key, str(exc)))
            progress.advance(files=1)
            continue
        except Exception as exc:  # a parser's own bug must cost one file, not the whole run
            report.failed.append(FileFailure(key, f"cannot parse: {type(exc).__name__}: {exc}"))
            progress.advance(files=1)
            continue
        yield _Pending(
            key, doc.format, doc.title, sha, len(data), mtime, chunks, existed=known is not None
        )


@dataclass(frozen=True)
class Embeddings:
    """How a chunk's vectors are made: by `chunks` (None: `sentences`) for the chunk, by
    `sentences` for each of its sentences, if `per_sentence`."""

    sentences: Embedder
    chunks: object = None  # a ChunkEmbedder
    per_sentence: bool = True

    @property
    def dimension(self) -> int:
        return (self.chunks or self.sentences).dimension

    def of_chunks(self, texts: list[str]) -> np.ndarray:
        if self.chunks is None:
            return self.sentences.embed(texts)
        return self.chunks.embed_documents(texts)  # type: ignore[attr-defined]

    def of_sentences(self, texts: list[str]) -> np.ndarray:
        return self.sentences.embed(texts)


def embed_chunks(
    embeddings: Embeddings,
    texts: list[str],
    spans: list[list[tuple[int, int]]],
    bodies: list[str],
    advance=None,
) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """The vectors of chunks (`texts`, as embedded) and of their sentences (`spans` of
    `bodies`, None when sentence vectors are off). Chunks are embedded in length order, like
    encode() does over a whole corpus, so batches pad little; small sub-batches keep a
    progress bar moving (`advance(n)`). Each sub-batch's sentences are embedded with it
    (in length order too)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), embeddings.dimension), dtype=np.float32)
    width = embeddings.sentences.dimension
    sentence_vectors: list[np.ndarray] = [np.zeros((0, width), np.float32)] * len(texts)
    for start in range(0, len(order), EMBED_BATCH):
        part = order[start : start + EMBED_BATCH]
        vectors[part] = embeddings.of_chunks([texts[i] for i in part])
        if embeddings.per_sentence:
            # (chunk, sentence number) of each sentence in the sub-batch, shortest first
            owners = sorted(
                ((i, j) for i in part for j in range(len(spans[i]))),
                key=lambda o: spans[o[0]][o[1]][1] - spans[o[0]][o[1]][0],
            )
            found = embeddings.of_sentences([bodies[i][slice(*spans[i][j])] for i, j in owners])
            for i in part:
                sentence_vectors[i] = np.zeros((len(spans[i]), width), np.float32)
            for (i, j), vector in zip(owners, found, strict=True):
                sentence_vectors[i][j] = vector
        if advance is not None:
            advance(len(part))
    return vectors, (sentence_vectors if embeddings.per_sentence else None)


def _flush(
    pending: list[_Pending],
    store: Store,
    embeddings: Embeddings,
    index,
    report: IngestReport,
    progress: IngestProgress,
    groups: Sequence[str] | None = None,
) -> None:
    if not pending:
        return
    chunks = [(item.title, c) for item in pending for c in item.chunks]
    texts = [embedding_text(title, c.heading, c.text) for title, c in chunks]
    spans = [sentence_spans(c.text) for _, c in chunks]
    vectors, sentence_vectors = embed_chunks(
        embeddings,
        texts,
        spans,
        [c.text for _, c in chunks],
        lambda n: progress.advance(chunks=n),
    )
    offset = 0
    for item in pending:
        n = len(item.chunks)
        mine = vectors[offset : offset + n]
        sentences = None
        if sentence_vectors is not None:
            sentences = [
                Sentences(spans[i], sentence_vectors[i]) for i in range(offset, offset + n)
            ]
        offset += n
        new_ids, old_ids = store.corpus.replace_document(
            path=item.path,
            format=item.format,
            title=item.title,
            sha256=item.sha256,
            size=item.size,
            mtime=item.mtime,
            chunks=item.chunks,
            vectors=mine,
            groups=groups,
            sentences=sentences,
            passages=PASSAGE_FORMAT,
        )
        index.remove(old_ids)
        index.add(new_ids, mine)
        report.chunks_added += n
        if item.existed:
            report.updated += 1
        else:
            report.added += 1
        progress.advance(files=1)


def remove_documents(target: Path, *, store: Store, index, dimension: int) -> list[str]:
    """Remove the document stored for `target`, or every document under it when it names a
    folder; returns the stored paths removed (empty when nothing matched)."""
    key = os.path.abspath(target)
    prefix = key.rstrip(os.sep) + os.sep
    paths = [d.path for d in store.corpus.documents() if d.path == key or d.path.startswith(prefix)]
    if not paths:
        return []
    open_index(store, index, dimension)
    for path in paths:
        index.remove(store.corpus.remove_document(path))
    index.save(store.corpus.fingerprint())
    return paths
