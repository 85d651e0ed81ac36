"""How one answer came about (`docqa trace`).

A trace is scoped to the viewer: a user sees their own interactions (the anonymous profile,
the anonymous ones), and retrieved chunks only if the viewer may read them now. The store's
owner can look at everyone's with `everyone=True`.
"""

from __future__ import annotations

import contextlib
import json

from docqa.errors import DocqaError
from docqa.records import Profile
from docqa.store import Store

_JSON_COLUMNS = ("citations", "timings", "flags")


def trace(store: Store, iid: int, *, viewer: Profile, everyone: bool = False) -> dict:
    """The interaction's record and every step it went through, retrieved chunks resolved
    to their path, place and text."""
    row = store.journal.interaction(iid)
    if row is None or (not everyone and row["user"] != viewer.name):
        whose = "" if everyone else f" for {_who(viewer)}"
        raise DocqaError(f"no interaction {iid}{whose} (`docqa log list` shows them)")
    row.pop("question_embedding", None)
    for column in _JSON_COLUMNS:
        if isinstance(row.get(column), str):
            row[column] = json.loads(row[column])
    if isinstance(row.get("raw_output"), str):
        with contextlib.suppress(ValueError):  # older records hold plain text
            row["raw_output"] = json.loads(row["raw_output"])
    steps = store.journal.steps(iid)
    readable = None if everyone else viewer
    for step in steps:
        if step["stage"] == "retrieve":
            step["data"]["hits"] = _resolve(store, step["data"].get("hits", []), readable)
    return {"interaction": row, "steps": steps}


def _resolve(store: Store, hits: list[dict], viewer: Profile | None) -> list[dict]:
    scored = [(h["chunk_id"], {k: v for k, v in h.items() if k != "chunk_id"}) for h in hits]
    found = {h.chunk_id: h for h in store.corpus.hits(scored, viewer)}
    out = []
    for h in hits:
        hit = found.get(h["chunk_id"])
        if hit is None:  # removed since, or no longer readable by the viewer
            out.append({**h, "path": None, "text": None, "available": False})
            continue
        out.append(
            {
                **h,
                "path": hit.path,
                "where": hit.where,
                "heading": hit.heading,
                "text": hit.text,
                "available": True,
            }
        )
    return out


def _who(viewer: Profile) -> str:
    return f"user {viewer.name!r}" if viewer.name else "the anonymous user (--user NAME)"
