"""OpenDocument text (.odt): content.xml read with lxml, paragraphs, list items and table rows
in document order, under the heading path of its outline levels.

An ODT is a zip of XML parts; the text is all in content.xml (`text:h` with its outline level,
`text:p`, `text:list`, `table:table`), so lxml reads it directly. Like .docx, it has no lines
or pages of its own: a block's provenance is its heading path.
"""

from __future__ import annotations

from docqa.errors import LoaderError
from docqa.ingest.archive import open_zip, parse_xml, read_member
from docqa.ingest.headings import HeadingPath, table_row
from docqa.records import Block

_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_DC = "http://purl.org/dc/elements/1.1/"

# containers whose text repeats the document's (a table of contents) or is not its text
_SKIP = {
    f"{{{_TEXT}}}table-of-content",
    f"{{{_TEXT}}}illustration-index",
    f"{{{_TEXT}}}alphabetical-index",
    f"{{{_TEXT}}}bibliography",
    f"{{{_TEXT}}}sequence-decls",
    f"{{{_TEXT}}}tracked-changes",
    f"{{{_OFFICE}}}forms",
}
# inline elements whose text is not the paragraph's own (footnotes, comments)
_NOT_INLINE = {f"{{{_TEXT}}}note", f"{{{_OFFICE}}}annotation", f"{{{_TEXT}}}tracked-changes"}


def odt_blocks(data: bytes) -> tuple[str | None, list[Block]]:
    """Read an .odt into (title, blocks)."""
    archive = open_zip(data, "ODT")
    with archive:
        mimetype = read_member(archive, "mimetype", "ODT")
        if mimetype is not None and mimetype.strip() != b"application/vnd.oasis.opendocument.text":
            kind = mimetype.decode("ascii", "replace").strip()[:80]
            raise LoaderError(f"not an OpenDocument text file (its type is {kind!r})")
        manifest = read_member(archive, "META-INF/manifest.xml", "ODT") or b""
        if b"encryption-data" in manifest:
            raise LoaderError("password-protected ODT (its content is encrypted)")
        content = read_member(archive, "content.xml", "ODT")
        meta = read_member(archive, "meta.xml", "ODT")
    if content is None:
        raise LoaderError("broken ODT file (it has no content.xml)")
    root = parse_xml(content, "ODT content.xml")
    body = root.find(f"{{{_OFFICE}}}body/{{{_OFFICE}}}text")
    if body is None:
        raise LoaderError("not an OpenDocument text file (no text body in content.xml)")
    blocks: list[Block] = []
    _walk(body, HeadingPath(), blocks)
    title = None
    if meta is not None:
        found = parse_xml(meta, "ODT meta.xml").find(f".//{{{_DC}}}title")
        if found is not None:
            title = " ".join("".join(found.itertext()).split()) or None
    if title is None:
        title = next((b.text for b in blocks if b.is_heading), None)
    return title, blocks


def _walk(element, path: HeadingPath, blocks: list[Block]) -> None:
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIP:
            continue
        if tag == f"{{{_TEXT}}}h":
            text = _text(child)
            if text:
                level = _int(child.get(f"{{{_TEXT}}}outline-level"), 1)
                blocks.append(Block(text, heading=path.push(level, text), is_heading=True))
        elif tag == f"{{{_TEXT}}}p":
            text = _text(child)
            if text:
                blocks.append(Block(text, heading=path.current))
        elif tag == f"{{{_TABLE}}}table":
            for row in child.iter(f"{{{_TABLE}}}table-row"):
                cells = [_text(c) for c in row if c.tag == f"{{{_TABLE}}}table-cell"]
                line = table_row(cells)
                if line:
                    blocks.append(Block(line, heading=path.current))
        else:  # sections, lists and list items, and anything else that holds paragraphs
            _walk(child, path, blocks)


def _text(element) -> str:
    """A paragraph's text: its spans and links, `text:s` spaces, tabs and line breaks, without
    its footnotes and comments; white space collapsed."""
    parts: list[str] = []

    def visit(node) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            tag = child.tag
            if isinstance(tag, str) and tag not in _NOT_INLINE:
                if tag in (f"{{{_TEXT}}}s", f"{{{_TEXT}}}tab", f"{{{_TEXT}}}line-break"):
                    parts.append(" ")
                else:
                    visit(child)
            if child.tail:
                parts.append(child.tail)

    visit(element)
    return " ".join("".join(parts).split())


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, min(int(value or default), 10))
    except ValueError:
        return default
