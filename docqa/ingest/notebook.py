"""Jupyter notebooks (.ipynb) through nbformat: every cell's text, with the cell's number as
the page.

nbformat reads every notebook format version (converted to version 4). Markdown cells are
read as Markdown, as the text they render to (docqa.ingest.markup), and their headings make
the heading path the cells after them sit under; code cells keep their source and their text
output (a cell's printed result is often the answer). Cell N's blocks have `page` N (a
citation shows "page 5" for the fifth cell, counted from the top as Jupyter shows them), and
chunks never span cells.
"""

from __future__ import annotations

import dataclasses
import json
import re

from docqa.errors import LoaderError, read_by_library
from docqa.ingest.headings import HeadingPath
from docqa.ingest.markup import plain_texts
from docqa.ingest.text import text_blocks
from docqa.records import Block

MAX_OUTPUT_CHARS = 2000  # of one cell's text output (a log of a training run can be megabytes)
_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def notebook_blocks(text: str) -> tuple[str | None, list[Block]]:
    """Read a notebook's JSON text into (title, blocks)."""
    import nbformat

    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise LoaderError(f"broken notebook: not JSON ({exc})") from None
    if not isinstance(parsed, dict) or "nbformat" not in parsed:
        raise LoaderError("not a Jupyter notebook (its JSON has no nbformat version)")
    with read_by_library("notebook"):  # nbformat raises JSON, schema and conversion errors
        notebook = nbformat.reads(text, as_version=4, capture_validation_error={})
        cells = list(notebook.get("cells") or [])
        metadata = notebook.get("metadata") or {}
        title = metadata.get("title") if isinstance(metadata, dict) else None
    path = HeadingPath()
    blocks: list[Block] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        source = _source(cell.get("source"))
        if kind == "markdown":
            raw = text_blocks(source, markdown=True) if source.strip() else []
            # the plain view of each block (docqa.ingest.markup); None: nothing of it shown
            plain = plain_texts(raw, source, "markdown") or [(b.text, None) for b in raw]
            for block, shown in zip(raw, plain, strict=True):
                if shown is None or not shown[0].strip():
                    continue
                heading = path.current
                if block.is_heading:
                    match = _ATX.match(block.text.split("\n", 1)[0])
                    level = len(match.group(1)) if match else len(block.heading)
                    heading = path.push(level, " ".join(shown[0].split()))
                blocks.append(
                    dataclasses.replace(
                        block,
                        text=shown[0],
                        line_start=None,
                        line_end=None,
                        page=number,
                        heading=heading,
                    )
                )
        elif kind in ("code", "raw") and source.strip():
            blocks.append(Block(source.strip("\n"), page=number, heading=path.current))
        if kind == "code":
            output = _output(cell.get("outputs"))
            if output:
                blocks.append(Block(output, page=number, heading=path.current))
    if not isinstance(title, str) or not title.strip():
        title = next((b.heading[-1] for b in blocks if b.is_heading and b.heading), None)
    return title, blocks


def _source(source) -> str:
    if isinstance(source, list):  # a notebook not normalised by nbformat keeps lines
        source = "".join(s for s in source if isinstance(s, str))
    return source.replace("\r\n", "\n") if isinstance(source, str) else ""


def _output(outputs) -> str:
    """A code cell's text output: what it printed and the plain text of its results."""
    parts: list[str] = []
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        if output.get("output_type") == "stream":
            parts.append(_source(output.get("text")))
        elif output.get("output_type") in ("execute_result", "display_data"):
            data = output.get("data")
            if isinstance(data, dict):
                parts.append(_source(data.get("text/plain")))
    text = "\n".join(p.strip("\n") for p in parts if p.strip())
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS].rsplit("\n", 1)[0] + "\n…"
    return text
