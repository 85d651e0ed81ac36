"""The plain text of Markdown, read by markdown-it-py (docqa.ingest.markup's Markdown half):
CommonMark with tables and strikethrough, raw HTML read for its text, block line maps exact.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

from docqa.errors import LoaderError
from docqa.ingest.html import html_blocks
from docqa.ingest.markup import Segment


def segments(source: str) -> list[Segment]:
    # markdown-it stops reading (and drops the rest) at maxNesting levels of quotes and lists;
    # with no such limit, nesting too deep for Python's stack raises RecursionError instead, and
    # the file keeps its source text (plain_texts)
    md = MarkdownIt("commonmark", {"html": True, "maxNesting": 100_000})
    md.enable(["table", "strikethrough"])
    tokens = md.parse(source)
    out: list[Segment] = []
    row: list[str] | None = None
    row_map = None
    item_marker = ""
    for i, tok in enumerate(tokens):
        kind = tok.type
        if kind == "list_item_open":
            ordered = tok.markup in (".", ")")
            item_marker = f"{tok.info}{tok.markup} " if ordered else "- "
        elif kind == "tr_open":
            row, row_map = [], tok.map
        elif kind == "tr_close" and row is not None and row_map:
            out.append(Segment(row_map[0] + 1, row_map[1], " | ".join(row)))
            row = None
        elif kind == "inline":
            text = _inline(tok.children or [])
            if row is not None:
                row.append(text)
                continue
            parent = tokens[i - 1] if i else tok
            where = parent.map or tok.map
            if where and text.strip():
                if item_marker and parent.type == "paragraph_open":
                    text, item_marker = item_marker + text, ""
                out.append(Segment(where[0] + 1, where[1], text))
        elif kind in ("fence", "code_block") and tok.map:
            code = tok.content.rstrip("\n")
            if code.strip():
                out.append(Segment(tok.map[0] + 1, tok.map[1], code))
        elif kind == "html_block" and tok.map:
            text = _html_text(tok.content)
            if text:
                out.append(Segment(tok.map[0] + 1, tok.map[1], text))
    return out


def _inline(children) -> str:
    parts = []
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline", "text_special"):
            parts.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "image":
            parts.append(_inline(child.children or []))
        # link, emphasis, strong, strikethrough markers and inline HTML tags say nothing
    return "".join(parts)


def _html_text(html: str) -> str:
    """The text of a raw HTML block, as the HTML loader reads a page (scripts, styles and
    navigation dropped); nothing for a comment."""
    if html.lstrip().startswith("<!--"):
        return ""
    try:
        _, blocks = html_blocks(html)
    except LoaderError:  # markup lxml cannot read: none of its text
        return ""
    return "\n".join(b.text for b in blocks)
