"""The sentences an extractive answer may choose from: the sources' sentences closest to the
question, never a chunk's own heading or a bare cross-reference."""

from __future__ import annotations

from docqa.flows.extractive import NOT_FOUND, candidates, heading_names
from docqa.records import Hit
from tests.fakes import FakeEmbedder

QUESTION = "Which directory should a base backup leave out?"
TEXT = (
    "26.3.3.1. Backing Up the Data Directory\n\n"
    "A base backup should leave out the pg_wal directory of the cluster.\n\n"
    "See Section 26.3.4 for more information.\n\n"
    "Backups can be taken while the server runs."
)
HEADING = "26.3. Continuous Archiving > 26.3.3.1. Backing Up the Data Directory"


def _offered(text: str, heading: str) -> list[str]:
    embedder = FakeEmbedder()
    hit = Hit(chunk_id=1, path="backup.html", text=text, score=1.0, heading=heading)
    return candidates(embedder.embed([QUESTION])[0], (hit,), embedder)


def test_headings_and_cross_references_are_not_offered():
    offered = _offered(TEXT, HEADING)
    assert sorted(offered[:-1]) == [
        "[1] A base backup should leave out the pg_wal directory of the cluster.",
        "[1] Backups can be taken while the server runs.",
    ]
    assert offered[-1] == f"[0] {NOT_FOUND}"


def test_a_line_is_a_heading_only_in_the_chunk_it_heads():
    # the same words, not the chunk's heading: offered like any sentence
    offered = _offered(TEXT, "Index > B")
    assert "[1] Backing Up the Data Directory" in offered  # split from its number
    assert "[1] See Section 26.3.4 for more information." not in offered


def test_heading_names_with_and_without_their_numbers():
    assert heading_names("A > 26.3. Backups · A > F.43.1.1. normal_rand") == {
        "a",
        "26.3. backups",
        "backups",
        "f.43.1.1. normal_rand",
        "normal_rand",
    }
