"""PowerPoint decks (.pptx) through python-pptx: each slide's title, text boxes, tables and
speaker notes, with the slide number as the page.

A slide is what a reader of a deck finds by number, so every block of slide N has `page` N
(a citation shows "page 3" for slide 3, as in the deck exported to PDF) and chunks never span
slides; the slide's title heads its blocks, and its speaker notes follow them, marked
"Speaker notes:" (a reader looking at the slide itself would not find them).
"""

from __future__ import annotations

import io

from docqa.errors import read_by_library
from docqa.ingest.archive import check_office_zip
from docqa.ingest.headings import table_row
from docqa.records import Block

NOTES = "Speaker notes: "


def pptx_blocks(data: bytes) -> tuple[str | None, list[Block]]:
    """Read a .pptx into (title, blocks)."""
    check_office_zip(data, "PPTX")  # sizes checked before python-pptx reads any part
    from pptx import Presentation

    with read_by_library("PPTX file"):
        deck = Presentation(io.BytesIO(data))
        blocks: list[Block] = []
        first_title = None
        for number, slide in enumerate(deck.slides, start=1):
            title_shape = slide.shapes.title
            title = _clean(title_shape.text_frame.text) if title_shape is not None else ""
            heading: tuple[str, ...] = (title,) if title else ()
            if title:
                first_title = first_title or title
                blocks.append(Block(title, page=number, heading=heading, is_heading=True))
            for text in _texts(slide.shapes, skip=title_shape):
                blocks.append(Block(text, page=number, heading=heading))
            if slide.has_notes_slide:
                frame = slide.notes_slide.notes_text_frame
                notes = frame.text.strip() if frame is not None else ""
                if notes:
                    blocks.append(Block(NOTES + notes, page=number, heading=heading))
        title = (deck.core_properties.title or "").strip() or first_title
    return title, blocks


def _texts(shapes, skip=None) -> list[str]:
    """The text of each shape, top to bottom then left to right (the order a reader takes,
    which the order shapes were added in often is not); a table gives one text per row."""
    from pptx.shapes.group import GroupShape

    found: list[tuple[int, int, list[str]]] = []
    for shape in shapes:
        if skip is not None and shape.shape_id == skip.shape_id:
            continue
        texts: list[str] = []
        if isinstance(shape, GroupShape):
            texts = _texts(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = (table_row(cell.text for cell in row.cells) for row in shape.table.rows)
            texts = [row for row in rows if row]
        elif shape.has_text_frame:
            text = "\n".join(_clean(p.text) for p in shape.text_frame.paragraphs)
            texts = [text.strip("\n")] if text.strip() else []
        if texts:
            found.append((shape.top or 0, shape.left or 0, texts))
    found.sort(key=lambda f: (f[0], f[1]))
    return [text for _, _, texts in found for text in texts]


def _clean(text: str) -> str:
    # a vertical tab is how PowerPoint stores a line break inside a paragraph
    return " ".join(text.replace("\v", " ").split())
