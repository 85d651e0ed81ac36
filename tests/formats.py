"""Small documents of every format docqa reads, made by the formats' own libraries (python-docx,
python-pptx, openpyxl, nbformat, the standard library's email) or, for ODT and EPUB, written as
the zip of XML files those formats are. The loader tests, the hostile-input tests and the
sample documents are built with these."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape


def docx(items: list[tuple[str, str]], title: str | None = None) -> bytes:
    """(style, text) paragraphs, where style is "Title", "Heading N", "" (body) or "table"
    (text: rows split by "\\n", cells by "|")."""
    import docx as python_docx

    document = python_docx.Document()
    if title:
        document.core_properties.title = title
    for style, text in items:
        if style == "table":
            rows = [r.split("|") for r in text.split("\n")]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        elif style.startswith("Heading"):
            document.add_heading(text, level=int(style.split()[1]))
        elif style == "Title":
            document.add_heading(text, level=0)
        else:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx(slides: list[tuple[str, list[str], str]], title: str | None = None) -> bytes:
    """(title, bullet paragraphs, speaker notes) per slide."""
    from pptx import Presentation

    deck = Presentation()
    if title:
        deck.core_properties.title = title
    for slide_title, bullets, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])  # "Title and Content"
        slide.shapes.title.text = slide_title
        body = slide.placeholders[1].text_frame
        for i, bullet in enumerate(bullets):
            paragraph = body.paragraphs[0] if i == 0 else body.add_paragraph()
            paragraph.text = bullet
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def xlsx(sheets: dict[str, list[list[object]]], title: str | None = None) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    if title:
        book.properties.title = title
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ipynb(cells: list[tuple[str, str, str | None]]) -> bytes:
    """(cell type, source, printed output or None) per cell."""
    import nbformat
    from nbformat import v4

    notebook = v4.new_notebook()
    for kind, source, output in cells:
        if kind == "markdown":
            notebook.cells.append(v4.new_markdown_cell(source))
        else:
            outputs = [v4.new_output("stream", name="stdout", text=output)] if output else []
            notebook.cells.append(v4.new_code_cell(source, outputs=outputs, execution_count=1))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return nbformat.writes(notebook).encode()


def eml(subject: str, sender: str, to: str, date: str, body: str, html: str | None = None):
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = date
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    return bytes(message)


def _zip(files: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            kind = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=kind)
    return out.getvalue()


_ODT_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" office:version="1.3"'
)


def odt(items: list[tuple[str, str]], title: str | None = None, body_xml: str = "") -> bytes:
    """("h1".."h9" | "p" | "li" | "table", text) items, as an OpenDocument text file (the
    parts LibreOffice writes that matter: mimetype, manifest, content and meta)."""
    parts = []
    for kind, text in items:
        if kind.startswith("h"):
            parts.append(f'<text:h text:outline-level="{kind[1:]}">{escape(text)}</text:h>')
        elif kind == "li":
            parts.append(
                f"<text:list><text:list-item><text:p>{escape(text)}</text:p>"
                "</text:list-item></text:list>"
            )
        elif kind == "table":
            rows = "".join(
                "<table:table-row>"
                + "".join(
                    f"<table:table-cell><text:p>{escape(c)}</text:p></table:table-cell>"
                    for c in row.split("|")
                )
                + "</table:table-row>"
                for row in text.split("\n")
            )
            parts.append(f'<table:table table:name="T">{rows}</table:table>')
        else:
            parts.append(f"<text:p>{escape(text)}</text:p>")
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODT_NS}>'
        f"<office:body><office:text>{''.join(parts)}{body_xml}</office:text></office:body>"
        "</office:document-content>"
    )
    meta = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {_ODT_NS}><office:meta>'
        + (f"<dc:title>{escape(title)}</dc:title>" if title else "")
        + "</office:meta></office:document-meta>"
    )
    return _zip(
        {
            "mimetype": "application/vnd.oasis.opendocument.text",
            "META-INF/manifest.xml": _odt_manifest(encrypted=False),
            "content.xml": content,
            "meta.xml": meta,
        }
    )


def _odt_manifest(encrypted: bool) -> str:
    secret = (
        '<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="x">'
        '<manifest:algorithm manifest:algorithm-name="Blowfish CFB" '
        'manifest:initialisation-vector="x"/></manifest:encryption-data>'
        if encrypted
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">'
        f"{secret}</manifest:file-entry></manifest:manifest>"
    )


def encrypted_odt() -> bytes:
    """An ODT saved with a password, as LibreOffice lays it out: the manifest says content.xml
    is encrypted, and content.xml is cipher bytes."""
    return _zip(
        {
            "mimetype": "application/vnd.oasis.opendocument.text",
            "META-INF/manifest.xml": _odt_manifest(encrypted=True),
            "content.xml": bytes(range(256)) * 4,
        }
    )


def epub(chapters: list[tuple[str, str]], title: str = "A Book", encrypted: bool = False) -> bytes:
    """(table-of-contents title, XHTML body) per chapter, as an EPUB 3 book with a
    navigation document; `encrypted` lists the chapters in META-INF/encryption.xml, as DRM
    does."""
    manifest, spine, links, files = [], [], [], {}
    for n, (name, body) in enumerate(chapters, start=1):
        href = f"text/chapter{n}.xhtml"
        files[f"OEBPS/{href}"] = (
            '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE html>'
            '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
            f"<title>{escape(name)}</title></head><body>{body}</body></html>"
        )
        manifest.append(f'<item id="c{n}" href="{href}" media-type="application/xhtml+xml"/>')
        spine.append(f'<itemref idref="c{n}"/>')
        links.append(f'<li><a href="{href}">{escape(name)}</a></li>')
    files["OEBPS/nav.xhtml"] = (
        '<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml" '
        'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Contents</title></head><body>'
        f'<nav epub:type="toc"><h1>Contents</h1><ol>{"".join(links)}</ol></nav></body></html>'
    )
    files["OEBPS/content.opf"] = (
        '<?xml version="1.0" encoding="UTF-8"?><package xmlns="http://www.idpf.org/2007/opf" '
        'version="3.0" unique-identifier="id"><metadata '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">urn:uuid:'
        "8c1e6f3a-0b1d-4c59-9a57-3f2b5d7c9e10</dc:identifier>"
        f"<dc:title>{escape(title)}</dc:title><dc:language>en</dc:language></metadata>"
        '<manifest><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" '
        f'properties="nav"/>{"".join(manifest)}</manifest>'
        f'<spine><itemref idref="nav"/>{"".join(spine)}</spine></package>'
    )
    if encrypted:
        refs = "".join(
            '<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#"><CipherData>'
            f'<CipherReference URI="OEBPS/text/chapter{n}.xhtml"/></CipherData></EncryptedData>'
            for n in range(1, len(chapters) + 1)
        )
        files["META-INF/encryption.xml"] = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container">{refs}'
            "</encryption>"
        )
    return _zip(
        {
            "mimetype": "application/epub+zip",
            "META-INF/container.xml": (
                '<?xml version="1.0" encoding="UTF-8"?><container version="1.0" '
                'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                '<rootfile full-path="OEBPS/content.opf" '
                'media-type="application/oebps-package+xml"/></rootfiles></container>'
            ),
            **files,
        }
    )


def zip_bomb(member: str, size: int, base: bytes) -> bytes:
    """`base` (a real zip document) with `member` replaced by `size` zero bytes, deflated: a
    few hundred KB that unpack to `size`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as source, zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            if info.filename != member:
                archive.writestr(info, source.read(info.filename))
        info = zipfile.ZipInfo(member)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as fh:
            block = bytes(1 << 20)
            for _ in range(size >> 20):
                fh.write(block)
    return out.getvalue()


def office_encrypted() -> bytes:
    """What Office writes for a document saved with a password: an OLE compound file whose
    directory names an EncryptedPackage stream (the header and that name; docqa reads no
    further)."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    entry = "EncryptedPackage".encode("utf-16-le").ljust(64, b"\x00") + bytes(64)
    info = "EncryptionInfo".encode("utf-16-le").ljust(64, b"\x00") + bytes(64)
    return header + bytes(512) + entry + info
