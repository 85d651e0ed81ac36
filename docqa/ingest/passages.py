"""What of a chunk is embedded: the chunk with its context, and each of its sentences.

A chunk's vector is made from its text with the document title and heading path in front
("PostgreSQL Limits / Appendix K > ..."): a passage of a manual rarely names what it is about,
its headings do. The text shown and cited stays the chunk's own. Each sentence is embedded on
its own too, so a question that one sentence answers is matched against that sentence rather
than against a 256-token average (docqa.flows.retrieve scores a chunk by both).

PASSAGE_FORMAT is recorded per document: documents embedded by a format older than their
kind needs (`is_current`) are embedded again by the next `docqa ingest`, even when their files
have not changed.
"""

from __future__ import annotations

from docqa.flows.groundedness import sentence_spans as spans_of

PASSAGE_FORMAT = 3  # 2: chunks cut at headings (docqa.ingest.chunker); 3: plain text
# The formats whose chunks format 3 changed (Markdown and reST chunks hold the text their
# pages show, docqa.ingest.markup): the others' format-2 vectors are still current.
_PLAIN_TEXT_FORMATS = ("markdown", "rst", "ipynb")
MIN_SENTENCE_CHARS = 12  # shorter parts ("Note", "Yes", a lone name) say nothing alone


def is_current(fmt: str, passages: int) -> bool:
    """Whether a document of format `fmt` embedded by passage format `passages` needs no new
    vectors."""
    return passages >= (3 if fmt in _PLAIN_TEXT_FORMATS else 2)


def embedding_text(title: str | None, heading: str, text: str) -> str:
    """The text embedded for a chunk: its title and heading path, then the chunk."""
    context = [part for part in (title or "", heading) if part]
    if len(context) == 2 and context[1].startswith(context[0]):
        context = context[1:]
    return "\n".join([*context, text])


def sentence_spans(text: str, min_chars: int = MIN_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """(start, end) character offsets of the chunk's sentences, cut as groundedness and the
    extractive candidates cut them; parts shorter than `min_chars` or with no letter are left
    out."""
    return [(a, b) for a, b in spans_of(text, min_chars) if any(c.isalpha() for c in text[a:b])]
