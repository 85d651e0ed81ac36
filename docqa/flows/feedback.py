"""A person's verdict on an answer (`docqa feedback`, chat's /good and /bad).

Who may rate an answer is who may trace it (docqa.flows.trace.visible): a user their own
answers, the store's owner any with `everyone=True`. A second verdict by the same rater on
the same answer replaces the first; the record says which it replaced.
"""

from __future__ import annotations

from dataclasses import dataclass

from docqa.errors import DocqaError, UsageError
from docqa.flows.trace import visible
from docqa.records import Profile
from docqa.store import Store

VERDICTS = ("good", "bad")
MAX_NOTE = 2000  # characters: a note is a remark, not a document


@dataclass(frozen=True)
class Rating:
    """One rater's verdict on one answer."""

    interaction_id: int
    user: str | None  # the rater (None: the anonymous user)
    verdict: str  # "good" or "bad"
    note: str | None
    created_at: str  # ISO UTC
    replaced: Rating | None = None  # the same rater's earlier verdict, which this replaced


def give_feedback(
    store: Store,
    iid: int,
    verdict: str,
    note: str | None = None,
    *,
    user: Profile,
    everyone: bool = False,
) -> Rating:
    """Record `user`'s verdict ("good" or "bad") on interaction `iid`, with an optional note.
    Raises UsageError for a bad verdict or note, DocqaError for an interaction the user may
    not see (the same error as `trace`) or one still being answered."""
    if verdict not in VERDICTS:
        raise UsageError(f"a verdict is good or bad, not {verdict!r}")
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise UsageError(f"the note is {len(note):,} characters; at most {MAX_NOTE:,}")
    row = visible(store.journal.interaction(iid), iid, viewer=user, everyone=everyone)
    if row["status"] == "running":
        raise DocqaError(f"interaction {iid} is still being answered: rate it once it is done")
    saved, previous = store.feedback.rate(iid, user.name, verdict, note)
    return Rating(**saved, replaced=None if previous is None else Rating(**previous))
