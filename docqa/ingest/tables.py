"""Tables: CSV and TSV through the standard library's csv module, Excel workbooks (.xlsx)
through openpyxl. One block per row, its cells joined by " | ".

Each table's first row with text is its header: a heading block (`is_heading`) that the
chunker repeats at the top of every chunk of the table's rows (docqa.ingest.chunker), since
rows without their column names mean little to a reader. A row's provenance is its range of
lines in the file (CSV, TSV: a quoted cell may span lines) or its row number in the sheet
(XLSX, shown as its lines), under the sheet's name.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from docqa.errors import LoaderError, read_by_library
from docqa.ingest.archive import check_office_zip
from docqa.ingest.headings import table_row
from docqa.records import Block

TABLE_FORMATS = {"csv", "tsv", "xlsx"}
# Excel's own limits: a sheet has at most this many rows, and docqa reads at most this many
# cells of a workbook (a few KB of XML can declare a sheet of a billion empty cells)
MAX_ROWS = 1_048_576
MAX_CELLS = 5_000_000


def csv_blocks(text: str, delimiter: str | None) -> list[Block]:
    """Rows of CSV (`delimiter` None: sniffed among , ; | and tab) or TSV text."""
    if delimiter is None:
        delimiter = _sniff(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    blocks: list[Block] = []
    header = False
    last = 0
    try:
        for row in reader:
            first, last = last + 1, reader.line_num
            line = table_row(row)
            if not line:
                continue
            blocks.append(Block(line, first, last, is_heading=not header))
            header = True
    except csv.Error as exc:
        reason = str(exc)
        if "field limit" in reason:  # most often a quote that is never closed
            reason = f"a cell of over {csv.field_size_limit():,} characters (an unclosed quote?)"
        raise LoaderError(f"broken CSV at line {last + 1}: {reason}") from None
    return blocks


def _sniff(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def xlsx_blocks(data: bytes) -> tuple[str | None, list[Block]]:
    """Rows of every worksheet of an .xlsx, each sheet under its name."""
    check_office_zip(data, "XLSX")  # sizes checked before openpyxl reads any part
    import openpyxl

    blocks: list[Block] = []
    with read_by_library("XLSX file"):  # openpyxl raises what its XML and zip layers raise
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            cells = 0
            for sheet in book.worksheets:
                # rows as long as their cells, not padded to what the sheet claims its size is
                sheet.reset_dimensions()
                name = (sheet.title or "").strip()
                heading = (name,) if name else ()
                header = False
                for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                    cells += len(row)
                    if number > MAX_ROWS or cells > MAX_CELLS:
                        raise LoaderError(
                            f"spreadsheet too large: sheet {name!r} goes past "
                            f"{MAX_ROWS:,} rows or the workbook past {MAX_CELLS:,} cells"
                        )
                    line = table_row(_value(v) for v in row) if row else ""
                    if line:
                        blocks.append(
                            Block(line, number, number, heading=heading, is_heading=not header)
                        )
                        header = True
            title = (book.properties.title or "").strip() or None
        finally:
            book.close()
    return title, blocks


def _value(value) -> str | None:
    """A cell's value as a reader sees it: 3 rather than 3.0, a date without a midnight."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return None if value is None else str(value)
