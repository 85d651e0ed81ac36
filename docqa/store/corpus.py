"""The corpus: documents, their chunks with embeddings and sentence vectors, the groups that
may read them, the embedder that made them, and the corpus's own integrity checks.

SQLite is the source of truth; the vector index is rebuilt from the embeddings kept here.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docqa.errors import EmbedderMismatchError, StoreError
from docqa.records import Chunk, DocumentInfo, Hit, PassageVectors, Profile, Sentences
from docqa.store.sql import utcnow

if TYPE_CHECKING:  # numpy is imported where vectors are handled: `docs list` needs none
    import numpy as np

_STOPWORDS = frozenset(
    (
        "a an and are as at be by did do does for from had has have how i in is it its of on or "
        "that the their there this to was were what when where which who whom why will with you "
        "your can could should would about into than then them they these those"
    ).split()
)


@dataclass(frozen=True)
class EmbedderIdentity:
    name: str
    dimension: int

    def __str__(self) -> str:
        return f"{self.name} ({self.dimension}-d)"


class Corpus:
    """Documents, chunks and access, on the store's connection."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- embedder identity ------------------------------------------------------------
    # Two vector spaces: the chunks' vectors (the index's), and the sentences' vectors (each
    # chunk's sentences, and what answers are checked with). One model makes both unless
    # chunk vectors come from a model of their own (nomic-embed); a store from before that
    # records only the first, which then names both.
    def embedder(self) -> EmbedderIdentity | None:
        """The identity of the chunk vectors' embedder, None before the first ingest."""
        return self._identity("embedder")

    def sentence_embedder(self) -> EmbedderIdentity | None:
        """The identity of the sentence vectors' embedder."""
        return self._identity("sentence_embedder") or self.embedder()

    def _identity(self, key: str) -> EmbedderIdentity | None:
        names = (f"{key}_name", f"{key}_dimension")
        rows = dict(
            self.conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)", names).fetchall()
        )
        if f"{key}_name" not in rows:
            return None
        return EmbedderIdentity(rows[f"{key}_name"], int(rows[f"{key}_dimension"]))

    def _record(self, identity: EmbedderIdentity, sentences: EmbedderIdentity) -> None:
        """Write both identities (inside the caller's transaction)."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [
                ("embedder_name", identity.name),
                ("embedder_dimension", str(identity.dimension)),
                ("sentence_embedder_name", sentences.name),
                ("sentence_embedder_dimension", str(sentences.dimension)),
            ],
        )

    def claim_embedder(
        self, identity: EmbedderIdentity, sentences: EmbedderIdentity | None = None
    ) -> None:
        """Record the embedders on first use; refuse different ones afterwards."""
        if self.embedder() is None:
            with self.conn:
                self._record(identity, sentences or identity)
            return
        self.check_embedder(identity, sentences)

    def check_embedder(
        self, identity: EmbedderIdentity, sentences: EmbedderIdentity | None = None
    ) -> None:
        current = self.embedder()
        if current is not None and current != identity:
            raise EmbedderMismatchError(
                f"this store was built with the embedder {current}, not {identity}; "
                "use the same --embedder, `docqa reindex --embedder NAME` to change it, or "
                "a new --home for the other one"
            )
        kept = self.sentence_embedder()
        if sentences is not None and kept is not None and kept != sentences:
            raise EmbedderMismatchError(
                f"this store's sentence vectors were made by {kept}, not {sentences}; "
                "use the same --embedder, or `docqa reindex` to embed them again"
            )

    # -- reindex ----------------------------------------------------------------------
    def start_reindex(self, target: str) -> int:
        """Begin (or resume) staging vectors for the embedders `target` names; vectors
        staged for another target are dropped. Returns how many chunks are staged already."""
        with self.conn:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'reindex_target'")
            current = row.fetchone()
            if current is None or current[0] != target:
                self.conn.execute("DELETE FROM reindex_vectors")
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('reindex_target', ?)",
                    (target,),
                )
        return self.conn.execute("SELECT count(*) FROM reindex_vectors").fetchone()[0]

    def unstaged_chunks(self, limit: int) -> list[tuple[int, str | None, str, str]]:
        """(chunk id, document title, heading, text) of chunks with no staged vector yet."""
        return self.conn.execute(
            "SELECT c.id, d.title, c.heading, c.text FROM chunks c"
            " JOIN documents d ON d.id = c.document_id"
            " WHERE c.id NOT IN (SELECT chunk_id FROM reindex_vectors) ORDER BY c.id LIMIT ?",
            (limit,),
        ).fetchall()

    def stage_vectors(
        self,
        ids: Sequence[int],
        vectors: np.ndarray,
        sentences: Sequence[Sentences] | None = None,
    ) -> None:
        """Keep new vectors for these chunks (and their sentences'), in one transaction."""
        import numpy as np

        rows = []
        for n, (cid, vector) in enumerate(zip(ids, vectors, strict=True)):
            spans = blob = None
            if sentences is not None:
                spans = json.dumps(sentences[n].spans)
                blob = np.asarray(sentences[n].vectors, np.float16).tobytes()
            rows.append((cid, np.asarray(vector, np.float32).tobytes(), spans, blob))
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO reindex_vectors (chunk_id, embedding, spans, sentences)"
                " VALUES (?, ?, ?, ?)",
                rows,
            )

    def finish_reindex(
        self, chunks: EmbedderIdentity, sentences: EmbedderIdentity, new_sentences: str
    ) -> None:
        """Swap the staged vectors in for every chunk and record the new embedders, in one
        transaction; `new_sentences`: "staged" (theirs replace the stored ones), "keep" or
        "drop" (the stored sentence vectors are of another model and none were made)."""
        with self.conn:
            missing = self.conn.execute(
                "SELECT count(*) FROM chunks WHERE id NOT IN (SELECT chunk_id FROM reindex_vectors)"
            ).fetchone()[0]
            if missing:
                raise StoreError(f"{missing} chunks have no new vector yet: run reindex again")
            self.conn.execute(
                "UPDATE chunks SET embedding = (SELECT r.embedding FROM reindex_vectors r"
                " WHERE r.chunk_id = chunks.id)"
            )
            if new_sentences in ("staged", "drop"):
                self.conn.execute("DELETE FROM chunk_sentences")
            if new_sentences == "staged":
                self.conn.execute(
                    "INSERT INTO chunk_sentences (chunk_id, spans, vectors)"
                    " SELECT chunk_id, spans, sentences FROM reindex_vectors"
                    " WHERE spans IS NOT NULL AND spans != '[]'"
                )
            self._record(chunks, sentences)
            self.conn.execute("DELETE FROM reindex_vectors")
            self.conn.execute("DELETE FROM meta WHERE key = 'reindex_target'")

    # -- documents --------------------------------------------------------------------
    def document(self, path: str) -> DocumentInfo | None:
        row = self.conn.execute(_DOC_SELECT + " WHERE path = ?", (path,)).fetchone()
        return _doc(row) if row else None

    def documents(self) -> list[DocumentInfo]:
        return [_doc(r) for r in self.conn.execute(_DOC_SELECT + " ORDER BY path")]

    def replace_document(
        self,
        *,
        path: str,
        format: str,
        title: str | None,
        sha256: str,
        size: int,
        mtime: float | None,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        groups: Sequence[str] | None = None,
        sentences: Sequence[Sentences] | None = None,
        passages: int = 0,
    ) -> tuple[list[int], list[int]]:
        """Insert or replace one document and its chunks in one transaction. `groups` are
        the groups that may read it (empty: public); None keeps a replaced document's groups
        (a new one is public). `sentences`: each chunk's sentence spans and vectors, made by
        the docqa.ingest.passages format `passages`.

        Returns (new chunk ids, removed chunk ids) for the vector index.
        """
        import numpy as np

        if len(chunks) != len(vectors) or (sentences is not None and len(sentences) != len(chunks)):
            raise ValueError("one vector, and one set of sentences, per chunk")
        vectors = np.asarray(vectors, dtype=np.float32)
        with self.conn:
            if groups is None:
                known = self.document(path)
                groups = known.groups if known is not None else ()
            old = self._delete_document(path)
            cur = self.conn.execute(
                "INSERT INTO documents (path, format, title, sha256, size, mtime, n_chunks,"
                " ingested_at, passages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (path, format, title, sha256, size, mtime, len(chunks), utcnow(), passages),
            )
            doc_id = cur.lastrowid
            new_ids = []
            for chunk, vector in zip(chunks, vectors, strict=True):
                cur = self.conn.execute(
                    "INSERT INTO chunks (document_id, seq, text, n_tokens, line_start, line_end,"
                    " page, heading, embedding, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc_id,
                        chunk.seq,
                        chunk.text,
                        chunk.n_tokens,
                        chunk.line_start,
                        chunk.line_end,
                        chunk.page,
                        chunk.heading,
                        vector.tobytes(),
                        chunk.source,
                    ),
                )
                new_ids.append(int(cur.lastrowid))
            if sentences is not None:
                self.conn.executemany(
                    "INSERT INTO chunk_sentences (chunk_id, spans, vectors) VALUES (?, ?, ?)",
                    [
                        (cid, json.dumps(s.spans), np.asarray(s.vectors, np.float16).tobytes())
                        for cid, s in zip(new_ids, sentences, strict=True)
                        if s.spans
                    ],
                )
            self._write_groups(doc_id, groups)
        return new_ids, old

    def set_groups(self, path: str, groups: Sequence[str]) -> bool:
        """Set the groups of a stored document; False when it is not in the store."""
        with self.conn:
            row = self.conn.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchone()
            if row is None:
                return False
            self._write_groups(row[0], groups)
        return True

    def _write_groups(self, doc_id: int, groups: Sequence[str]) -> None:
        self.conn.execute("DELETE FROM document_groups WHERE document_id = ?", (doc_id,))
        self.conn.executemany(
            "INSERT INTO document_groups (document_id, name) VALUES (?, ?)",
            [(doc_id, g) for g in sorted(set(groups))],
        )

    def remove_document(self, path: str) -> list[int]:
        """Delete a document; returns its chunk ids (empty when it was not in the store)."""
        with self.conn:
            return self._delete_document(path)

    def _delete_document(self, path: str) -> list[int]:
        row = self.conn.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchone()
        if row is None:
            return []
        ids = [
            r[0]
            for r in self.conn.execute("SELECT id FROM chunks WHERE document_id = ?", (row[0],))
        ]
        # delete chunks explicitly so the FTS triggers run for each
        self.conn.execute("DELETE FROM chunks WHERE document_id = ?", (row[0],))
        self.conn.execute("DELETE FROM documents WHERE id = ?", (row[0],))
        return ids

    # -- access -----------------------------------------------------------------------
    def restricted(self) -> bool:
        """Whether any document is in a group (if none is, every profile reads everything)."""
        return self.conn.execute("SELECT 1 FROM document_groups LIMIT 1").fetchone() is not None

    def access_version(self) -> str:
        """A digest of every document's groups: caches of what a profile may read are keyed
        on it (re-tagging a document changes no chunk, so the fingerprint stays)."""
        rows = self.conn.execute(
            "SELECT document_id, name FROM document_groups ORDER BY document_id, name"
        ).fetchall()
        return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]

    def forbidden_chunks(self, profile: Profile) -> set[int]:
        """The chunk ids the profile may not read."""
        if not self.restricted():
            return set()
        rows = self.conn.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE NOT {PERMITTED}",
            (json.dumps(list(profile.groups)),),
        )
        return {r[0] for r in rows}

    def permitted_embeddings(self, profile: Profile) -> tuple[list[int], np.ndarray]:
        """(chunk ids, vectors) of every chunk the profile may read: for exact search when
        the vector index's filtered search comes back short."""
        import numpy as np

        rows = self.conn.execute(
            "SELECT c.id, c.embedding FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE {PERMITTED} ORDER BY c.id",
            (json.dumps(list(profile.groups)),),
        ).fetchall()
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        return [r[0] for r in rows], np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

    # -- chunks -----------------------------------------------------------------------
    def chunk_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def fingerprint(self) -> tuple[int, int, int]:
        count, total, top = self.conn.execute(
            "SELECT count(*), coalesce(sum(id), 0), coalesce(max(id), 0) FROM chunks"
        ).fetchone()
        return int(count), int(total), int(top)

    def iter_embeddings(
        self, dimension: int, batch: int = 4096
    ) -> Iterator[tuple[list[int], np.ndarray]]:
        import numpy as np

        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT id, embedding FROM chunks WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            ids = [r[0] for r in rows]
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            yield ids, vectors.reshape(len(rows), dimension)
            last = ids[-1]

    def hits(self, scored: Sequence[tuple[int, dict]], profile: Profile | None = None) -> list[Hit]:
        """Hits for (chunk id, score fields) pairs, in the given order; unknown ids, and
        chunks the profile may not read, are dropped."""
        ids = [cid for cid, _ in scored]
        if not ids:
            return []
        where, params = "", []
        if profile is not None:
            where, params = f" AND {PERMITTED}", [json.dumps(list(profile.groups))]
        rows = self.conn.execute(
            "SELECT c.id, d.path, c.text, c.heading, c.line_start, c.line_end, c.page, c.source"
            " FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE c.id IN ({','.join('?' * len(ids))}){where}",
            [*ids, *params],
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        out = []
        for cid, fields in scored:
            r = by_id.get(cid)
            if r is None:
                continue
            out.append(
                Hit(
                    chunk_id=r[0],
                    path=r[1],
                    text=r[2],
                    heading=r[3],
                    line_start=r[4],
                    line_end=r[5],
                    page=r[6],
                    source=r[7],
                    **fields,
                )
            )
        return out

    def passage_vectors(self, ids: Sequence[int]) -> dict[int, PassageVectors]:
        """The chunk vector, the sentence spans and vectors (none for chunks ingested before
        sentence vectors) and the document, of each chunk id given that exists."""
        import numpy as np

        if not ids:
            return {}
        rows = self.conn.execute(
            "SELECT c.id, c.embedding, s.spans, s.vectors, c.document_id FROM chunks c"
            " LEFT JOIN chunk_sentences s ON s.chunk_id = c.id"
            f" WHERE c.id IN ({','.join('?' * len(ids))})",
            list(ids),
        ).fetchall()
        out = {}
        for cid, chunk, spans, sentences, document in rows:
            vector = np.frombuffer(chunk, dtype=np.float32)
            if spans is None:
                out[cid] = PassageVectors(vector, (), None, document)
            else:
                spans = tuple(map(tuple, json.loads(spans)))
                matrix = np.frombuffer(sentences, dtype=np.float16).reshape(len(spans), -1)
                out[cid] = PassageVectors(
                    vector,
                    spans,
                    matrix.astype(np.float32),
                    document,
                )
        return out

    def lexical_search(
        self, question: str, limit: int, profile: Profile | None = None
    ) -> list[int]:
        """Chunk ids matching any of the question's words, best bm25 first; only chunks the
        profile may read (all, with no profile)."""
        return [cid for cid, _ in self.lexical_scores(question, limit, profile)]

    def lexical_scores(
        self, question: str, limit: int, profile: Profile | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, bm25 score: higher is better) of the chunks matching any of the
        question's words, best first; only chunks the profile may read."""
        words = []
        for w in re.findall(r"\w+", question.lower()):
            if w not in _STOPWORDS and w not in words:
                words.append(w)
        if not words:
            return []
        query = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        if profile is None or not self.restricted():
            rows = self.conn.execute(
                "SELECT rowid, -bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ?"
                " ORDER BY bm25(chunks_fts) LIMIT ?",
                (query, limit),
            ).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT f.rowid, -bm25(chunks_fts) FROM chunks_fts f"
                " JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id"
                f" WHERE chunks_fts MATCH ? AND {PERMITTED} ORDER BY bm25(chunks_fts) LIMIT ?",
                (query, json.dumps(list(profile.groups)), limit),
            ).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    def sample_chunks(self, limit: int, profile: Profile | None = None) -> list[tuple[str, str]]:
        """(document path, text) of up to `limit` chunks the profile may read (all, with no
        profile), in a fixed pseudo-random order spread over the corpus: the unrelated
        sentences groundedness is calibrated against."""
        where, params = "", []
        if profile is not None:
            where, params = f"WHERE {PERMITTED}", [json.dumps(list(profile.groups))]
        rows = self.conn.execute(
            "SELECT d.path, c.text FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" {where} ORDER BY (c.id * 2654435761) % 4294967296 LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def chunk_vectors(self, limit: int = 5000) -> np.ndarray:
        """Up to `limit` chunk vectors spread over the corpus, in the space questions are
        recorded in (the documents' side of outlier scores): the chunks' own vectors, or,
        where those come from a model of their own, the mean of each chunk's sentences."""
        import numpy as np

        order = "ORDER BY (c.id * 2654435761) % 4294967296 LIMIT ?"
        if self.embedder() == self.sentence_embedder():
            rows = self.conn.execute(f"SELECT c.embedding FROM chunks c {order}", (limit,))
            vectors = [np.frombuffer(r[0], dtype=np.float32) for r in rows]
        else:
            rows = self.conn.execute(
                f"SELECT s.vectors, s.spans FROM chunks c JOIN chunk_sentences s"
                f" ON s.chunk_id = c.id {order}",
                (limit,),
            )
            vectors = []
            for blob, spans in rows:
                mean = np.frombuffer(blob, np.float16).reshape(len(json.loads(spans)), -1)
                mean = mean.astype(np.float32).mean(axis=0)
                vectors.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
        return np.stack(vectors) if vectors else None

    def chunk_paths(self, ids) -> dict[int, str]:
        ids = list(ids)
        if not ids:
            return {}
        rows = self.conn.execute(
            "SELECT c.id, d.path FROM chunks c JOIN documents d ON d.id = c.document_id"
            f" WHERE c.id IN ({','.join('?' * len(ids))})",
            ids,
        )
        return dict(rows.fetchall())

    # -- integrity (docqa doctor) --------------------------------------------------------
    def chunk_ids(self) -> set[int]:
        return {r[0] for r in self.conn.execute("SELECT id FROM chunks")}

    def full_text_problem(self) -> str | None:
        """Why the full-text index is out of step with the chunks (None: it is not)."""
        try:
            self.conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return None

    def rebuild_full_text(self) -> None:
        with self.conn:
            self.conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")

    def orphans(self) -> list[tuple[int, str]]:
        """(count, what) of rows that lost their document, and of wrong chunk counts."""
        found = [
            (
                "SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)",
                "chunks belong to no document",
            ),
            (
                "SELECT count(*) FROM document_groups"
                " WHERE document_id NOT IN (SELECT id FROM documents)",
                "group tags belong to no document",
            ),
            (
                "SELECT count(*) FROM documents d WHERE n_chunks !="
                " (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)",
                "documents have a wrong chunk count",
            ),
        ]
        return [(self.conn.execute(sql).fetchone()[0], what) for sql, what in found]

    def repair_orphans(self) -> None:
        """Delete rows whose document is gone, and count every document's chunks again."""
        with self.conn:
            self.conn.execute(
                "DELETE FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)"
            )
            self.conn.execute(
                "DELETE FROM document_groups WHERE document_id NOT IN (SELECT id FROM documents)"
            )
            self.conn.execute(
                "UPDATE documents SET n_chunks ="
                " (SELECT count(*) FROM chunks c WHERE c.document_id = documents.id)"
            )

    def misshapen_embeddings(self, dimension: int) -> int:
        """How many chunks hold an embedding that is not `dimension` float32 values."""
        return self.conn.execute(
            "SELECT count(*) FROM chunks WHERE length(embedding) != ?", (4 * dimension,)
        ).fetchone()[0]


_DOC_SELECT = (
    "SELECT id, path, format, title, sha256, size, n_chunks, ingested_at,"
    " (SELECT group_concat(name, char(31)) FROM"
    "  (SELECT name FROM document_groups g WHERE g.document_id = documents.id ORDER BY name)),"
    " passages FROM documents"
)


# The documents a profile may read, as SQL over `d` (documents): public ones (no group), and
# those sharing a group with the profile. Parameters: the profile's groups, as a JSON list.
PERMITTED = (
    "(NOT EXISTS (SELECT 1 FROM document_groups g WHERE g.document_id = d.id)"
    " OR EXISTS (SELECT 1 FROM document_groups g WHERE g.document_id = d.id"
    " AND g.name IN (SELECT value FROM json_each(?))))"
)


def _doc(row: tuple) -> DocumentInfo:
    return DocumentInfo(
        id=row[0],
        path=row[1],
        format=row[2],
        title=row[3],
        sha256=row[4],
        size=row[5],
        chunks=row[6],
        ingested_at=row[7],
        groups=tuple(row[8].split("\x1f")) if row[8] else (),
        passages=row[9],
    )
