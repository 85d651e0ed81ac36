"""Which loader reads which file, and the one entry point `load_document`.

Each format family has its own module; the libraries behind them (pypdf, python-docx,
python-pptx, openpyxl, nbformat) are imported inside their loaders, so only a file of that
format pays for the import.
"""

from __future__ import annotations

from pathlib import Path

from docqa.errors import LoaderError
from docqa.ingest.epub import epub_blocks
from docqa.ingest.html import html_blocks
from docqa.ingest.mail import eml_blocks
from docqa.ingest.markup import MARKUP_FORMATS, plain_blocks
from docqa.ingest.notebook import notebook_blocks
from docqa.ingest.opendocument import odt_blocks
from docqa.ingest.pdf import pdf_blocks
from docqa.ingest.slides import pptx_blocks
from docqa.ingest.tables import csv_blocks, xlsx_blocks
from docqa.ingest.text import decode_text, text_blocks
from docqa.ingest.word import docx_blocks
from docqa.records import LoadedDocument

FORMATS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".rst": "rst",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".odt": "odt",
    ".pptx": "pptx",
    ".epub": "epub",
    ".csv": "csv",
    ".tsv": "tsv",
    ".xlsx": "xlsx",
    ".ipynb": "ipynb",
    ".eml": "eml",
}
# formats read from their bytes (zip archives, MIME); the rest are text, decoded first
_BINARY = {"docx": docx_blocks, "odt": odt_blocks, "pptx": pptx_blocks, "epub": epub_blocks}
_BINARY |= {"xlsx": xlsx_blocks, "eml": eml_blocks}


def format_of(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def load_document(path: Path, data: bytes | None = None) -> LoadedDocument:
    """Load one file into blocks. Raises LoaderError with a reason a person understands."""
    fmt = format_of(path)
    if fmt is None:
        raise LoaderError(f"unsupported file type {path.suffix or '(no extension)'!r}")
    if data is None:
        data = read_bytes(path)
    source = None
    if fmt == "pdf":
        if not data.strip():
            raise LoaderError("empty file")
        if not data.lstrip()[:5] == b"%PDF-":
            raise LoaderError("not a PDF file (no %PDF header)")
        title, blocks = pdf_blocks(data)
    elif fmt in _BINARY:
        if not data.strip():
            raise LoaderError("empty file" if not data else "file holds only whitespace")
        title, blocks = _BINARY[fmt](data)
    elif fmt == "html":
        title, blocks = html_blocks(decode_text(data))
    elif fmt in ("csv", "tsv"):
        title, blocks = None, csv_blocks(decode_text(data), "\t" if fmt == "tsv" else None)
    elif fmt == "ipynb":
        title, blocks = notebook_blocks(decode_text(data))
    else:
        text = decode_text(data)
        blocks = text_blocks(text, markdown=fmt == "markdown", plain=fmt == "text")
        if fmt in MARKUP_FORMATS:
            blocks, source = plain_blocks(blocks, text, fmt), text
        title = next((b.heading[-1] for b in blocks if b.is_heading and b.heading), None)
    if not any(b.text.strip() for b in blocks):
        raise LoaderError("no text found in the file")
    return LoadedDocument(
        path=str(path), format=fmt, title=title, blocks=tuple(blocks), source=source
    )


def read_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    try:
        if max_bytes is not None:
            size = path.stat().st_size
            if size > max_bytes:
                raise LoaderError(
                    f"file of {size / 1e6:.3g} MB is over the {max_bytes / 1e6:g} MB limit "
                    "(max_file_mb in docqa.toml)"
                )
        return path.read_bytes()
    except PermissionError:
        raise LoaderError("permission denied") from None
    except IsADirectoryError:
        raise LoaderError("is a directory") from None
    except FileNotFoundError:
        raise LoaderError("file not found (or a broken symbolic link)") from None
    except OSError as exc:
        raise LoaderError(f"cannot read: {exc.strerror or exc}") from None
