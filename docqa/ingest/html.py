"""HTML: visible text grouped into blocks by their block-level element, headings kept.

Scripts, styles and other non-visible elements are dropped. Line numbers are those of the
HTML source, so a citation points into the file the user has.
"""

from __future__ import annotations

import warnings

from docqa.errors import LoaderError
from docqa.records import Block

_DROP = {"script", "style", "noscript", "template", "head", "svg", "canvas", "iframe", "object"}
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
    """Parse HTML text into (title, blocks)."""
    from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString
    from bs4 import ProcessingInstruction as PI

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            soup = BeautifulSoup(text, "html.parser")
        except Exception as exc:  # html.parser is lenient; anything here is truly broken
            raise LoaderError(f"cannot parse HTML: {exc}") from exc
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag else None
    for tag in soup.find_all(_DROP):
        tag.decompose()

    groups: list[tuple[object, list[tuple[str, int, int]]]] = []
    for node in soup.descendants:
        if not isinstance(node, NavigableString) or isinstance(
            node, (Comment, Declaration, Doctype, PI)
        ):
            continue
        if not node.strip():
            continue
        parent = node.parent
        owner = parent
        while owner is not None and owner.name not in _BLOCKS:
            owner = owner.parent
        line = getattr(parent, "sourceline", None) or 1
        entry = (str(node), line, line + str(node).count("\n"))
        if groups and groups[-1][0] is owner:
            groups[-1][1].append(entry)
        else:
            groups.append((owner, [entry]))

    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    for owner, parts in groups:
        name = getattr(owner, "name", None)
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
