"""Text as people read it: the plain view of Markdown and reStructuredText blocks.

A reader copies what it is shown, an embedder and the full-text index weigh every token, and a
person reads answers, snippets and citations: none of them should see ":func:`round`",
"[the docs](https://…)" or ".. code-block:: python". So each block of a Markdown or reST file
is given the text its rendered page shows, made by the format's own parser rather than by
patterns (docqa.ingest.markdown_text: markdown-it-py; docqa.ingest.rst_text: docutils), each
imported only when a file of its format is read:

- Markdown: links and images keep their text, emphasis and code markers go, entities are
  decoded, reference definitions and HTML comments go, code keeps its code.
- reStructuredText: roles (`:mod:`x``, `:func:`~a.b``, `:ref:`text <label>``) become their
  text (`x`, `b`, `text`), `text <url>`_` becomes `text`, substitutions are replaced,
  comments, targets and directive lines go, and a directive keeps what its page shows: an
  admonition its text, a code block its code, `versionadded` "Added in version 3.0",
  `toctree` and `index` nothing. Directives and roles docutils does not know (Sphinx's) are
  read the same general way, so no document fails for using them.

The blocks themselves (their lines, pages and headings) still come from docqa.ingest.text;
this module only replaces each block's text, so a chunk's line range points at the same
lines of the source file as before. Each piece of parsed text is placed on the first source
line that holds it (searching forward, since the parse is in document order), and goes to
the block holding that line. A block left with no text (a comment, a link target, a
`.. toctree::`) is dropped. A file the parser cannot read, or one over MAX_PARSE_CHARS, keeps
its source text: markup in a chunk is better than a lost document.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from docqa.records import Block

MARKUP_FORMATS = ("markdown", "rst")
# Files longer than this, or with a paragraph longer than MAX_BLOCK_CHARS, are not parsed for
# their plain view: their chunks keep the source text. docutils reads a paragraph's inline
# markup in time that grows with the square of its length (a 700 kB paragraph: 20 s).
MAX_PARSE_CHARS = 2_000_000
MAX_BLOCK_CHARS = 100_000


@dataclass(frozen=True)
class Segment:
    """A piece of plain text and the source lines (1-based, inclusive) it was read from."""

    line: int
    end: int
    text: str


def plain_blocks(blocks: Sequence[Block], source: str, fmt: str) -> list[Block]:
    """`blocks` (of `source`, as docqa.ingest.text made them) with their plain text: empty
    blocks dropped, heading paths in plain text too."""
    texts = plain_texts(blocks, source, fmt)
    if texts is None:
        return list(blocks)
    titles = {
        b.heading[-1]: " ".join(t[0].split())
        for b, t in zip(blocks, texts, strict=True)
        if b.is_heading and b.heading and t is not None and t[0].strip()
    }
    out = []
    for block, plain in zip(blocks, texts, strict=True):
        if plain is None or not plain[0].strip():
            continue
        text, end = plain
        heading = tuple(titles.get(h, h) for h in block.heading)
        out.append(dataclasses.replace(block, text=text, line_end=end, heading=heading))
    return out


def plain_texts(
    blocks: Sequence[Block], source: str, fmt: str
) -> list[tuple[str, int | None] | None] | None:
    """Per block: (plain text, last source line) or None when nothing of it is shown; None for
    all when the file is not parsed (too long, or the parser failed)."""
    if fmt not in MARKUP_FORMATS or len(source) > MAX_PARSE_CHARS or not blocks:
        return None
    if max(len(b.text) for b in blocks) > MAX_BLOCK_CHARS:
        return None
    try:
        segments = _markdown_segments(source) if fmt == "markdown" else _rst_segments(source)
    except Exception:  # a parser's bug costs the plain view of one file, never the file
        return None
    starts = [b.line_start or 0 for b in blocks]
    parts: list[list[Segment]] = [[] for _ in blocks]
    for seg in segments:
        i = max(0, bisect.bisect_right(starts, seg.line) - 1)
        parts[i].append(seg)
    out: list[tuple[str, int | None] | None] = []
    following = None  # the first line of the next block that shows something
    for block, mine in reversed(list(zip(blocks, parts, strict=True))):
        if not mine:
            out.append(None)
            continue
        end = block.line_end
        if end is not None:  # a literal block over blank lines ends past its first paragraph
            end = max(end, *(s.end for s in mine))
            if following is not None:
                end = max(block.line_end, min(end, following - 1))
        following = block.line_start
        out.append(("\n".join(s.text for s in mine), end))
    return out[::-1]


def _markdown_segments(source: str) -> list[Segment]:
    from docqa.ingest.markdown_text import segments  # markdown-it-py: only when a file needs it

    return segments(source)


def _rst_segments(source: str) -> list[Segment]:
    from docqa.ingest.rst_text import segments  # docutils: only when a file needs it

    return segments(source)
