"""HTML: visible text grouped into blocks by their block-level element, headings kept.

Scripts, styles and other non-visible elements are dropped, and so is site navigation
(`<nav>`, `role="navigation"`, and the navigation headers and footers documentation
generators write, like DocBook's `navheader`): "Prev Up Home Next" on every page of a manual
would otherwise become chunks of their own that match every question a little. Line numbers
are those of the HTML source, so a citation points into the file the user has.
"""

from __future__ import annotations

from docqa.errors import LoaderError
from docqa.records import Block

_DROP = {"script", "style", "noscript", "template", "head", "svg", "canvas", "iframe", "object"}
# class names of navigation blocks (DocBook, Sphinx, MkDocs, Javadoc and most site themes)
_NAV_CLASSES = {"navheader", "navfooter", "navbar", "navigation", "breadcrumb", "breadcrumbs"}
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_BLOCKS = {
    "p",
    "li",
    "pre",
    "blockquote",
    "td",
    "th",
    "dt",
    "dd",
    "figcaption",
    "caption",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "nav",
    "body",
    "html",
    "ul",
    "ol",
    "dl",
    "table",
    "tr",
    "form",
    "fieldset",
    "address",
    "summary",
    "details",
    *_HEADINGS,
}


def html_blocks(text: str) -> tuple[str | None, list[Block]]:
    """Parse HTML text into (title, blocks), with lxml (libxml2's HTML parser: lenient, and
    several times faster than Python's html.parser on large pages)."""
    from lxml import etree

    parser = etree.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True
    )
    try:
        root = etree.fromstring(text.encode("utf-8", "replace"), parser)
    except (etree.LxmlError, ValueError) as exc:
        raise LoaderError(f"cannot parse HTML: {exc}") from exc
    fatal = [e for e in parser.error_log if e.level_name == "FATAL"]
    if fatal:  # e.g. nesting deeper than libxml2's limit: what follows would be lost
        raise LoaderError(f"cannot parse HTML: {fatal[0].message} (line {fatal[0].line})")
    if root is None:  # nothing but whitespace or markup without content
        return None, []
    title_tag = root.find(".//title")
    title = " ".join("".join(title_tag.itertext()).split()) if title_tag is not None else None
    title = title or None

    owners: dict[object, object] = {}

    def owner_of(element):
        """The nearest block-level element holding `element` (itself included)."""
        found = owners.get(element)
        if found is None:
            found = element
            while found is not None and found.tag not in _BLOCKS:
                found = found.getparent()
            owners[element] = found
        return found

    groups: list[tuple[object, list[tuple[str, int, int]]]] = []

    def add(piece: str | None, parent) -> None:
        if not piece or not piece.strip():
            return
        owner = owner_of(parent)
        line = parent.sourceline or 1
        entry = (piece, line, line + piece.count("\n"))
        if groups and groups[-1][0] is owner:
            groups[-1][1].append(entry)
        else:
            groups.append((owner, [entry]))

    # document order without recursion (pages can nest deeper than Python's stack): an
    # element's text, its children, then its tail, which belongs to its parent
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        element, done = stack.pop()
        if done:
            parent = element.getparent()
            if parent is not None:
                add(element.tail, parent)
            continue
        stack.append((element, True))
        if not isinstance(element.tag, str) or element.tag in _DROP or _is_navigation(element):
            continue
        add(element.text, element)
        stack.extend((child, False) for child in reversed(element))

    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    for owner, parts in groups:
        name = getattr(owner, "tag", None)
        raw = "".join(p[0] for p in parts)
        body = raw.strip("\n") if name == "pre" else " ".join(raw.split())
        if not body:
            continue
        start = min(p[1] for p in parts)
        end = max(p[2] for p in parts)
        if name in _HEADINGS:
            level = _HEADINGS[name]
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, body))
            blocks.append(
                Block(body, start, end, heading=tuple(t for _, t in path), is_heading=True)
            )
        else:
            blocks.append(Block(body, start, end, heading=tuple(t for _, t in path)))
    if title is None:
        title = next((b.text for b in blocks if b.is_heading), None)
    return title, blocks


def _is_navigation(element) -> bool:
    if element.tag == "nav" or element.get("role") == "navigation":
        return True
    classes = element.get("class")
    return bool(classes) and not _NAV_CLASSES.isdisjoint(classes.split())
