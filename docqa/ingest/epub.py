"""EPUB e-books: the chapters in reading order (the package's spine), each read by the HTML
loader, under the chapter's title from the book's table of contents.

An EPUB is a zip: META-INF/container.xml names the package document (.opf), whose manifest
lists the files and whose spine orders the chapters; the table of contents is an EPUB 3
navigation document or an EPUB 2 NCX file. lxml reads these small XML files; the chapters
are XHTML, which docqa.ingest.html already reads. Line numbers inside a chapter file mean
nothing to a reader, so a block's provenance is its heading path, led by its chapter's title:
"The Voyage > Landfall".
"""

from __future__ import annotations

import dataclasses
import posixpath
from urllib.parse import unquote

from docqa.errors import LoaderError
from docqa.ingest.archive import open_zip, parse_xml, read_member
from docqa.ingest.html import html_blocks
from docqa.ingest.text import decode_text
from docqa.records import Block

_CONTAINER = "urn:oasis:names:tc:opendocument:xmlns:container"
_OPF = "http://www.idpf.org/2007/opf"
_DC = "http://purl.org/dc/elements/1.1/"
_NCX = "http://www.daisy.org/z3986/2005/ncx/"
_XHTML = "http://www.w3.org/1999/xhtml"
_EPUB = "http://www.idpf.org/2007/ops"
_ENC = "http://www.w3.org/2001/04/xmlenc#"
_CHAPTER_TYPES = {"application/xhtml+xml", "text/html", "application/x-dtbook+xml"}


def epub_blocks(data: bytes) -> tuple[str | None, list[Block]]:
    """Read an .epub into (title, blocks)."""
    archive = open_zip(data, "EPUB")
    with archive:
        container = read_member(archive, "META-INF/container.xml", "EPUB")
        if container is None:
            raise LoaderError("not an EPUB file (it has no META-INF/container.xml)")
        rootfile = parse_xml(container, "EPUB container.xml").find(f".//{{{_CONTAINER}}}rootfile")
        opf_path = rootfile.get("full-path") if rootfile is not None else None
        if not opf_path:
            raise LoaderError("broken EPUB file (container.xml names no package document)")
        opf_data = read_member(archive, opf_path, "EPUB")
        if opf_data is None:
            raise LoaderError(f"broken EPUB file (its package document {opf_path} is missing)")
        package = parse_xml(opf_data, "EPUB package document")
        base = posixpath.dirname(opf_path)
        items = {}  # id -> (path, media type, properties)
        for item in package.iter(f"{{{_OPF}}}item"):
            href = item.get("href")
            if item.get("id") and href:
                items[item.get("id")] = (
                    _resolve(base, href),
                    item.get("media-type", ""),
                    item.get("properties", "").split(),
                )
        encrypted = _encrypted(archive)
        try:
            toc = _toc(archive, package, items)
        except LoaderError:  # a broken table of contents costs the chapter titles, not the book
            toc = {}
        title_tag = package.find(f".//{{{_DC}}}title")
        title = " ".join("".join(title_tag.itertext()).split()) if title_tag is not None else ""
        blocks: list[Block] = []
        read: set[str] = set()
        for ref in package.iter(f"{{{_OPF}}}itemref"):
            path, media, properties = items.get(ref.get("idref"), (None, "", []))
            if path is None or media not in _CHAPTER_TYPES or "nav" in properties:
                continue  # the navigation document repeats the chapter titles
            if path in read:  # a spine naming one file many times reads it once
                continue
            read.add(path)
            if path in encrypted:
                raise LoaderError("DRM-protected EPUB (its chapters are encrypted)")
            blocks.extend(_chapter(archive, path, toc.get(path)))
    return title or None, blocks


def _chapter(archive, path: str, toc_title: str | None) -> list[Block]:
    raw = read_member(archive, path, "EPUB")
    if raw is None or not raw.strip():
        return []
    try:
        text = decode_text(raw)
    except LoaderError as exc:
        raise LoaderError(f"EPUB chapter {path}: {exc}") from None
    _, blocks = html_blocks(text)
    chapter = toc_title or next((b.text for b in blocks if b.is_heading), None)
    out = []
    for b in blocks:
        heading = b.heading
        if chapter and (not heading or heading[0] != chapter):
            heading = (chapter, *heading)
        out.append(dataclasses.replace(b, line_start=None, line_end=None, heading=heading))
    return out


def _resolve(base: str, href: str) -> str:
    """A path inside the zip for an href relative to the folder `base`, fragment dropped."""
    return posixpath.normpath(posixpath.join(base, unquote(href.split("#", 1)[0])))


def _encrypted(archive) -> set[str]:
    """The files META-INF/encryption.xml says are encrypted (DRM, or obfuscated fonts)."""
    data = read_member(archive, "META-INF/encryption.xml", "EPUB")
    if data is None:
        return set()
    root = parse_xml(data, "EPUB encryption.xml")
    return {
        posixpath.normpath(unquote(ref.get("URI", "")))
        for ref in root.iter(f"{{{_ENC}}}CipherReference")
    }


def _toc(archive, package, items) -> dict[str, str]:
    """Chapter path -> its title in the table of contents (the first entry pointing at it)."""
    titles: dict[str, str] = {}
    nav = next((path for path, _, props in items.values() if "nav" in props), None)
    if nav is not None:
        data = read_member(archive, nav, "EPUB")
        if data:
            root = parse_xml(data, "EPUB navigation document")
            for element in root.iter(f"{{{_XHTML}}}nav"):
                if element.get(f"{{{_EPUB}}}type") != "toc":
                    continue
                for link in element.iter(f"{{{_XHTML}}}a"):
                    name = " ".join("".join(link.itertext()).split())
                    if name and link.get("href"):
                        key = _resolve(posixpath.dirname(nav), link.get("href"))
                        titles.setdefault(key, name)
    if not titles:
        spine = package.find(f"{{{_OPF}}}spine")
        ncx_id = spine.get("toc") if spine is not None else None
        ncx = items.get(ncx_id, (None,))[0] if ncx_id else None
        data = read_member(archive, ncx, "EPUB") if ncx else None
        if data:
            root = parse_xml(data, "EPUB NCX table of contents")
            for point in root.iter(f"{{{_NCX}}}navPoint"):
                label = point.find(f"{{{_NCX}}}navLabel")
                content = point.find(f"{{{_NCX}}}content")
                if label is None or content is None or not content.get("src"):
                    continue
                name = " ".join("".join(label.itertext()).split())
                if name:
                    titles.setdefault(_resolve(posixpath.dirname(ncx), content.get("src")), name)
    return titles
