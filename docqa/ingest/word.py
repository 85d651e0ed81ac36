"""Word documents (.docx) through python-docx: paragraphs and table rows in document order,
under the heading path their "Title" and "Heading N" styles make.

A .docx has no lines or pages of its own (pages are made when Word lays it out), so a block's
provenance is its heading path, the way a reader finds it in Word's navigation pane.
"""

from __future__ import annotations

import io
import re

from docqa.errors import read_by_library
from docqa.ingest.archive import check_office_zip
from docqa.ingest.headings import HeadingPath, table_row
from docqa.records import Block

_HEADING_STYLE = re.compile(r"heading\s*([1-9])$", re.IGNORECASE)


def docx_blocks(data: bytes) -> tuple[str | None, list[Block]]:
    """Read a .docx into (title, blocks)."""
    check_office_zip(data, "DOCX")  # sizes checked before python-docx reads any part
    import docx
    from docx.table import Table

    with read_by_library("DOCX file"):
        document = docx.Document(io.BytesIO(data))
        path = HeadingPath()
        blocks: list[Block] = []
        title_style: str | None = None
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                blocks.extend(Block(row, heading=path.current) for row in _rows(item))
                continue
            text = " ".join(item.text.split())
            if not text:
                continue
            level = _heading_level(item)
            if level is None:
                blocks.append(Block(text, heading=path.current))
                continue
            if level == 0 and title_style is None:
                title_style = text
            blocks.append(Block(text, heading=path.push(level, text), is_heading=True))
        title = (document.core_properties.title or "").strip() or title_style
    if title is None:
        title = next((b.text for b in blocks if b.is_heading), None)
    return title, blocks


def _heading_level(paragraph) -> int | None:
    """0 for the Title style, N for "Heading N", None for body text."""
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE.match(name.strip())
    return int(match.group(1)) if match else None


def _rows(table) -> list[str]:
    """A table's rows as lines; a merged cell counts once."""
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(cell.text)
        line = table_row(cells)
        if line:
            rows.append(line)
    return rows
