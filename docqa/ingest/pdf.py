"""PDF through pypdf: one or more blocks per page, with the page number as provenance."""

from __future__ import annotations

import io
import logging
import re

from docqa.errors import LoaderError
from docqa.records import Block

logging.getLogger("pypdf").setLevel(logging.ERROR)


def pdf_blocks(data: bytes) -> tuple[str | None, list[Block]]:
    """Read a PDF into (title, blocks); broken, encrypted or image-only PDFs are LoaderErrors."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except (FileNotDecryptedError, NotImplementedError, PyPdfError):
                ok = 0
            if not ok:
                raise LoaderError("encrypted PDF (a password is needed to read it)")
        title = None
        try:
            meta = reader.metadata
            title = (meta.title or None) if meta else None
        except Exception:  # broken metadata must not lose the text
            title = None
        blocks: list[Block] = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            for para in re.split(r"\n\s*\n", text):
                para = para.strip()
                if para:
                    blocks.append(Block(text=para, page=number))
    except LoaderError:
        raise
    except (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        RecursionError,
        AssertionError,
        ZeroDivisionError,
    ) as exc:
        raise LoaderError(f"broken PDF: {type(exc).__name__}: {exc}".rstrip(": ")) from exc
    if not blocks:
        raise LoaderError("PDF has no extractable text (scanned images need OCR first)")
    return title, blocks
