"""Re-embedding a store for another embedder, from the text it already holds.

No file is read again: each chunk's text, heading and document title are in SQLite. New
vectors are staged beside the old ones in batches, each batch committed, so an interrupted
reindex leaves the store and its index as they were (still usable with the old embedder) and
the next reindex for the same embedder goes on where it stopped. When every chunk has its new
vector, one transaction swaps them in and records the new embedder; the vector index is then
rebuilt from SQLite (its manifest is removed first, so an index of the old vectors is never
loaded for the new ones).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from docqa.flows.corpus import identity_of, open_index
from docqa.flows.ingest import Embeddings, embed_chunks
from docqa.ingest.passages import embedding_text, sentence_spans
from docqa.records import Sentences
from docqa.store import Store

BATCH = 256  # chunks embedded and committed at a time


@dataclass
class ReindexReport:
    embedder: str  # the chunk vectors' embedder now
    sentence_embedder: str
    previous: str | None  # the chunk vectors' embedder before
    chunks: int = 0  # chunks in the store
    embedded: int = 0  # chunks embedded by this run (the rest were staged by an earlier one)
    sentences: str = "keep"  # what became of the sentence vectors: staged | keep | drop
    changed: bool = True  # False: the store was already built with these embedders
    seconds: float = 0.0


class _Silent:
    def begin(self, total: int, done: int) -> None:
        pass

    def advance(self, chunks: int) -> None:
        pass

    def end(self) -> None:
        pass


def reindex(
    *, store: Store, embeddings: Embeddings, index, progress=None, batch: int = BATCH
) -> ReindexReport:
    """Make every chunk's vector (and, when the sentence model changes and sentence vectors
    are on, its sentences' vectors) with `embeddings`, then swap them in (see the module)."""
    started = time.perf_counter()
    progress = progress or _Silent()
    chunk_id = identity_of(embeddings.chunks or embeddings.sentences)
    sentence_id = identity_of(embeddings.sentences)
    previous = store.corpus.embedder()
    report = ReindexReport(str(chunk_id), str(sentence_id), str(previous) if previous else None)
    report.chunks = store.corpus.chunk_count()
    sentences_change = store.corpus.sentence_embedder() != sentence_id
    if previous == chunk_id and not sentences_change:
        report.changed = False
        report.seconds = time.perf_counter() - started
        return report
    redo = embeddings.per_sentence and sentences_change
    report.sentences = "staged" if redo else ("drop" if sentences_change else "keep")
    target = f"{chunk_id.name}|{chunk_id.dimension}|{sentence_id.name}|{int(redo)}"
    done = store.corpus.start_reindex(target)
    progress.begin(report.chunks, done)
    work = Embeddings(embeddings.sentences, embeddings.chunks, redo)
    while rows := store.corpus.unstaged_chunks(batch):
        texts = [embedding_text(title, heading, text) for _, title, heading, text in rows]
        bodies = [text for *_, text in rows]
        spans = [sentence_spans(text) for text in bodies]
        vectors, sentence_vectors = embed_chunks(work, texts, spans, bodies, progress.advance)
        staged = None
        if sentence_vectors is not None:
            staged = [Sentences(s, v) for s, v in zip(spans, sentence_vectors, strict=True)]
        store.corpus.stage_vectors([r[0] for r in rows], vectors, staged)
        report.embedded += len(rows)
    progress.end()
    index.meta_path.unlink(missing_ok=True)  # the old index must not be loaded again
    store.corpus.finish_reindex(chunk_id, sentence_id, report.sentences)
    open_index(store, index, chunk_id.dimension)
    report.seconds = time.perf_counter() - started
    return report
