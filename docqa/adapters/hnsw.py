"""The hnswlib vector index: a derived cache of the embeddings kept in SQLite.

The index is saved as a data file named by the fingerprint of the chunk set it holds
(count, sum and max of chunk ids: `index.hnsw.<hash>`) and a small JSON manifest
(`index.hnsw.json`) naming the current one; each is written atomically, the manifest last, so
a reader always pairs a manifest with the data it describes, even while a writer saves. When
the fingerprint does not match the store's, e.g. after a crash mid-ingest, the index is
rebuilt from SQLite, which needs no re-embedding.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

Fingerprint = tuple[int, int, int]  # (count, sum of ids, max id)


def data_name(base: str, fingerprint: Fingerprint) -> str:
    """The data file's name for an index of `fingerprint`'s chunks."""
    digest = hashlib.sha256(json.dumps(list(fingerprint)).encode()).hexdigest()[:12]
    return f"{base}.{digest}"


class HnswIndex:
    """Cosine-space HNSW over chunk ids."""

    def __init__(
        self,
        path: Path,
        dimension: int,
        *,
        m: int = 16,
        ef_construction: int = 200,
        ef_search: int = 100,
    ):
        self.path = Path(path)
        self.meta_path = self.path.with_name(self.path.name + ".json")
        self.dimension = dimension
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self._index = None
        self._live = 0
        self.rebuilt = False  # whether the last open() had to rebuild from the store
        self.loaded_from: Path | None = None  # the data file load_saved() read

    # -- lifecycle -------------------------------------------------------------------------
    def open(
        self,
        fingerprint: Fingerprint,
        rows: Callable[[], Iterable[tuple[Sequence[int], np.ndarray]]],
    ) -> None:
        """Load the saved index if it matches `fingerprint`, else rebuild it from `rows()`."""
        if self.load_saved(fingerprint):
            return
        self.rebuild(fingerprint, rows)

    def rebuild(
        self,
        fingerprint: Fingerprint,
        rows: Callable[[], Iterable[tuple[Sequence[int], np.ndarray]]],
    ) -> None:
        """A new index holding `rows()` (the store's chunks, whose fingerprint is given)."""
        import hnswlib

        self._new(hnswlib, max(1024, int(fingerprint[0] * 1.25)))
        for ids, vectors in rows():
            self.add(ids, vectors)
        self.rebuilt = True

    def manifest(self) -> dict | None:
        """The saved manifest (fingerprint, dimension, capacity, data file), None if missing
        or unreadable."""
        try:
            meta = json.loads(self.meta_path.read_text())
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    def saved_file(self, meta: dict) -> Path:
        """The data file a manifest names ("file" is absent in manifests written before data
        files were named by fingerprint: then it is the index path itself)."""
        return self.path.with_name(str(meta.get("file", self.path.name)))

    def load_saved(self, fingerprint: Fingerprint) -> bool:
        """Load the saved index if its manifest says it was saved for `fingerprint`."""
        import hnswlib

        meta = self.manifest()
        try:
            if (
                meta is None
                or tuple(meta["fingerprint"]) != tuple(fingerprint)
                or meta["dimension"] != self.dimension
            ):
                return False
            data = self.saved_file(meta)
            index = hnswlib.Index(space="cosine", dim=self.dimension)
            index.load_index(str(data), max_elements=int(meta["capacity"]))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return False  # missing, stale or corrupt: rebuild
        index.set_ef(self.ef_search)
        self._index = index
        self._live = int(fingerprint[0])
        self.loaded_from = data
        return True

    def _new(self, hnswlib, capacity: int) -> None:
        index = hnswlib.Index(space="cosine", dim=self.dimension)
        index.init_index(
            max_elements=capacity, M=self.m, ef_construction=self.ef_construction, random_seed=100
        )
        index.set_ef(self.ef_search)
        self._index = index
        self._live = 0

    def data_path(self, fingerprint: Fingerprint) -> Path:
        return self.path.with_name(data_name(self.path.name, fingerprint))

    def save(self, fingerprint: Fingerprint) -> None:
        """Write the data file, then the manifest naming it (each atomically), then remove
        the data files of earlier states. A reader that read the old manifest still loads the
        old data (or, if it is gone already, rebuilds); a crash between the two writes leaves
        the old manifest, and a rebuild."""
        if self._index is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self.data_path(fingerprint)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        self._index.save_index(str(tmp))
        os.replace(tmp, data)
        meta = {
            "file": data.name,
            "fingerprint": list(fingerprint),
            "dimension": self.dimension,
            "capacity": self._index.get_max_elements(),
            "space": "cosine",
        }
        tmp_meta = self.meta_path.with_name(f"{self.meta_path.name}.{os.getpid()}.tmp")
        tmp_meta.write_text(json.dumps(meta))
        os.replace(tmp_meta, self.meta_path)
        for old in self.data_files():
            if old != data:
                old.unlink(missing_ok=True)

    def data_files(self) -> list[Path]:
        """Saved data files in the folder: the current one and any a crash left behind."""
        pattern = re.compile(re.escape(self.path.name) + r"(\.[0-9a-f]{12})?")
        if not self.path.parent.is_dir():
            return []
        return [p for p in self.path.parent.iterdir() if pattern.fullmatch(p.name)]

    # -- contents --------------------------------------------------------------------------
    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        index = self._require()
        need = index.get_current_count() + len(ids)
        if need > index.get_max_elements():
            index.resize_index(max(need, int(index.get_max_elements() * 1.5)))
        index.add_items(np.asarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
        self._live += len(ids)

    def remove(self, ids: Sequence[int]) -> None:
        index = self._require()
        for i in ids:
            try:
                index.mark_deleted(int(i))
                self._live -= 1
            except RuntimeError:
                pass  # not in the index (already deleted): nothing to do

    def query(
        self, vector: np.ndarray, k: int, exclude: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """The k nearest live chunks, never one in `exclude`: the exclusion is a filter
        inside hnswlib's graph search, so excluded chunks do not take places in the top k."""
        index = self._require()
        k = min(k, self._live - (len(exclude) if exclude else 0))
        if k <= 0:
            return []
        index.set_ef(max(self.ef_search, k))
        allowed = (lambda label: label not in exclude) if exclude else None
        while True:
            try:
                labels, distances = index.knn_query(
                    np.asarray(vector, dtype=np.float32), k=k, filter=allowed
                )
                break
            except RuntimeError:
                # too few reachable live elements for k (many deletions): ask for fewer
                if k <= 1:
                    return []
                k = max(1, k // 2)
        return [(int(i), float(1.0 - d)) for i, d in zip(labels[0], distances[0], strict=True)]

    def __len__(self) -> int:
        return self._live

    def live_ids(self) -> set[int]:
        """Every label the index would return (those marked deleted left out)."""
        index = self._require()
        live = set()
        for label in index.get_ids_list():
            try:
                index.get_items([label])
            except RuntimeError:  # marked deleted
                continue
            live.add(int(label))
        return live

    def _require(self):
        if self._index is None:
            raise RuntimeError("index not opened")
        return self._index
