"""Keeping the vector index in step with the store it is derived from."""

from __future__ import annotations

from docqa.adapters.protocols import Embedder
from docqa.store import EmbedderIdentity, Store


def identity_of(embedder: Embedder) -> EmbedderIdentity:
    return EmbedderIdentity(embedder.name, embedder.dimension)


def open_index(store: Store, index, dimension: int, save: bool = True):
    """Open `index` so that it holds exactly the store's chunks (rebuilding it if it does not),
    and return the fingerprint of that state. A rebuilt index is written back only with `save`
    (by the holder of the write lock)."""
    with store.snapshot():  # the fingerprint and the vectors come from one state of the store
        fingerprint = store.corpus.fingerprint()
        index.open(fingerprint, lambda: store.corpus.iter_embeddings(dimension))
    if index.rebuilt and save:
        index.save(fingerprint)
    return fingerprint
