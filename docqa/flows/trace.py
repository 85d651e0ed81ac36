"""How one answer came about (`docqa trace`), and who may see it.

A trace is scoped to the viewer: a user sees their own interactions (the anonymous profile,
the anonymous ones), and retrieved chunks only if the viewer may read them now. The store's
owner can look at everyone's with `everyone=True`.
"""

from __future__ import annotations

from dataclasses import replace

from docqa.errors import DocqaError
from docqa.journal import Retrieve, RetrievedHit, Source, Trace
from docqa.records import Profile
from docqa.store import Store


def trace(store: Store, iid: int, *, viewer: Profile, everyone: bool = False) -> Trace:
    """The interaction's record, every step it went through (retrieved chunks resolved to
    their path, place and text) and the verdicts people gave it."""
    row = visible(store.journal.record(iid), iid, viewer=viewer, everyone=everyone)
    row.pop("question_embedding", None)
    readable = None if everyone else viewer
    steps = tuple(
        replace(s, data=replace(s.data, hits=_resolve(store, s.data.hits, readable)))
        if isinstance(s.data, Retrieve)
        else s
        for s in store.journal.steps(iid)
    )
    return Trace(row, steps, tuple(store.feedback.of(iid)))


def visible(row: dict | None, iid: int, *, viewer: Profile, everyone: bool = False) -> dict:
    """Interaction `iid`'s row (as read from the journal) if the viewer may see it: their
    own, or any with `everyone`. Otherwise the one error `trace` and `feedback` both give."""
    if row is None or (not everyone and row["user"] != viewer.name):
        whose = "" if everyone else f" for {_who(viewer)}"
        raise DocqaError(f"no interaction {iid}{whose} (`docqa log list` shows them)")
    return row


def _resolve(
    store: Store, hits: tuple[RetrievedHit, ...], viewer: Profile | None
) -> tuple[RetrievedHit, ...]:
    """Each hit with where its chunk is, if the chunk is still there and the viewer may
    read it (else marked unavailable)."""
    found = {
        h.chunk_id: h for h in store.corpus.hits([(h.chunk_id, h.scores()) for h in hits], viewer)
    }
    out = []
    for h in hits:
        hit = found.get(h.chunk_id)
        if hit is None:  # removed since, or no longer readable by the viewer
            out.append(replace(h, source=None, available=False))
        else:
            source = Source(hit.path, hit.where, hit.heading, hit.text)
            out.append(replace(h, source=source, available=True))
    return tuple(out)


def _who(viewer: Profile) -> str:
    return f"user {viewer.name!r}" if viewer.name else "the anonymous user (--user NAME)"
