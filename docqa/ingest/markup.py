"""Text as people read it: the plain view of Markdown and reStructuredText blocks.

A reader copies what it is shown, an embedder and the full-text index weigh every token, and a
person reads answers, snippets and citations: none of them should see ":func:`round`",
"[the docs](https://…)" or ".. code-block:: python". So each block of a Markdown or reST file
is given the text its rendered page shows, made by the format's own parser (markdown-it-py,
docutils) rather than by patterns:

- Markdown: links and images keep their text, emphasis and code markers go, entities are
  decoded, reference definitions and HTML comments go, code keeps its code.
- reStructuredText: roles (`:mod:`x``, `:func:`~a.b``, `:ref:`text <label>``) become their
  text (`x`, `b`, `text`), `text <url>`_` becomes `text`, substitutions are replaced,
  comments, targets and directive lines go, and a directive keeps what its page shows: an
  admonition its text, a code block its code, `versionadded` "Added in version 3.0",
  `toctree` and `index` nothing. Directives and roles docutils does not know (Sphinx's) are
  read the same general way, so no document fails for using them.

The blocks themselves (their lines, pages and headings) still come from docqa.ingest.text;
this module only replaces each block's text, so a chunk's line range points at the same
lines of the source file as before. Each piece of parsed text is placed on the first source
line that holds it (searching forward, since the parse is in document order), and goes to
the block holding that line. A block left with no text (a comment, a link target, a
`.. toctree::`) is dropped. A file the parser cannot read, or one over MAX_PARSE_CHARS, keeps
its source text: markup in a chunk is better than a lost document.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from docqa.records import Block

MARKUP_FORMATS = ("markdown", "rst")
# Files longer than this, or with a paragraph longer than MAX_BLOCK_CHARS, are not parsed for
# their plain view: their chunks keep the source text. docutils reads a paragraph's inline
# markup in time that grows with the square of its length (a 700 kB paragraph: 20 s).
MAX_PARSE_CHARS = 2_000_000
MAX_BLOCK_CHARS = 100_000


@dataclass(frozen=True)
class _Segment:
    """A piece of plain text and the source lines (1-based, inclusive) it was read from."""

    line: int
    end: int
    text: str


def plain_blocks(blocks: Sequence[Block], source: str, fmt: str) -> list[Block]:
    """`blocks` (of `source`, as docqa.ingest.text made them) with their plain text: empty
    blocks dropped, heading paths in plain text too."""
    texts = plain_texts(blocks, source, fmt)
    if texts is None:
        return list(blocks)
    titles = {
        b.heading[-1]: " ".join(t[0].split())
        for b, t in zip(blocks, texts, strict=True)
        if b.is_heading and b.heading and t is not None and t[0].strip()
    }
    out = []
    for block, plain in zip(blocks, texts, strict=True):
        if plain is None or not plain[0].strip():
            continue
        text, end = plain
        heading = tuple(titles.get(h, h) for h in block.heading)
        out.append(dataclasses.replace(block, text=text, line_end=end, heading=heading))
    return out


def plain_texts(
    blocks: Sequence[Block], source: str, fmt: str
) -> list[tuple[str, int | None] | None] | None:
    """Per block: (plain text, last source line) or None when nothing of it is shown; None for
    all when the file is not parsed (too long, or the parser failed)."""
    if fmt not in MARKUP_FORMATS or len(source) > MAX_PARSE_CHARS or not blocks:
        return None
    if max(len(b.text) for b in blocks) > MAX_BLOCK_CHARS:
        return None
    try:
        segments = _markdown_segments(source) if fmt == "markdown" else _rst_segments(source)
    except Exception:  # a parser's bug costs the plain view of one file, never the file
        return None
    starts = [b.line_start or 0 for b in blocks]
    parts: list[list[_Segment]] = [[] for _ in blocks]
    for seg in segments:
        i = max(0, bisect.bisect_right(starts, seg.line) - 1)
        parts[i].append(seg)
    out: list[tuple[str, int | None] | None] = []
    following = None  # the first line of the next block that shows something
    for block, mine in reversed(list(zip(blocks, parts, strict=True))):
        if not mine:
            out.append(None)
            continue
        end = block.line_end
        if end is not None:  # a literal block over blank lines ends past its first paragraph
            end = max(end, *(s.end for s in mine))
            if following is not None:
                end = max(block.line_end, min(end, following - 1))
        following = block.line_start
        out.append(("\n".join(s.text for s in mine), end))
    return out[::-1]


# -- Markdown (markdown-it-py, CommonMark with tables and strikethrough) ---------------------
def _markdown_segments(source: str) -> list[_Segment]:
    from markdown_it import MarkdownIt

    # markdown-it stops reading (and drops the rest) at maxNesting levels of quotes and lists;
    # with no such limit, nesting too deep for Python's stack raises RecursionError instead, and
    # the file keeps its source text (plain_texts)
    md = MarkdownIt("commonmark", {"html": True, "maxNesting": 100_000})
    md.enable(["table", "strikethrough"])
    tokens = md.parse(source)
    out: list[_Segment] = []
    row: list[str] | None = None
    row_map = None
    item_marker = ""
    for i, tok in enumerate(tokens):
        kind = tok.type
        if kind == "list_item_open":
            ordered = tok.markup in (".", ")")
            item_marker = f"{tok.info}{tok.markup} " if ordered else "- "
        elif kind == "tr_open":
            row, row_map = [], tok.map
        elif kind == "tr_close" and row is not None and row_map:
            out.append(_Segment(row_map[0] + 1, row_map[1], " | ".join(row)))
            row = None
        elif kind == "inline":
            text = _markdown_inline(tok.children or [])
            if row is not None:
                row.append(text)
                continue
            parent = tokens[i - 1] if i else tok
            where = parent.map or tok.map
            if where and text.strip():
                if item_marker and parent.type == "paragraph_open":
                    text, item_marker = item_marker + text, ""
                out.append(_Segment(where[0] + 1, where[1], text))
        elif kind in ("fence", "code_block") and tok.map:
            code = tok.content.rstrip("\n")
            if code.strip():
                out.append(_Segment(tok.map[0] + 1, tok.map[1], code))
        elif kind == "html_block" and tok.map:
            text = _html_text(tok.content)
            if text:
                out.append(_Segment(tok.map[0] + 1, tok.map[1], text))
    return out


def _markdown_inline(children) -> str:
    parts = []
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline", "text_special"):
            parts.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "image":
            parts.append(_markdown_inline(child.children or []))
        # link, emphasis, strong, strikethrough markers and inline HTML tags say nothing
    return "".join(parts)


def _html_text(html: str) -> str:
    """The text of a raw HTML block (nothing for a comment)."""
    stripped = html.strip()
    if not stripped or stripped.startswith("<!--"):
        return ""
    import lxml.html

    try:
        return " ".join(
            lxml.html.fragment_fromstring(stripped, create_parent="div").text_content().split()
        )
    except Exception:  # lxml rejects some fragments: keep none of their text
        return ""


# -- reStructuredText (docutils, with Sphinx's roles and directives read generally) ----------
_DIRECTIVE_NAME = re.compile(r"^[ \t]*\.\.[ \t]+([\w][\w:.+-]*)[ \t]*::", re.MULTILINE)
_EXPLICIT_TITLE = re.compile(r"^(.+?)\s*(?<!\x00)<(.*?)>$", re.DOTALL)

# directives whose page shows nothing of them (or shows what docqa cannot read: other files,
# docstrings of code it does not have, rendered diagrams)
_SHOW_NOTHING = {
    "index", "toctree", "autosummary", "literalinclude", "highlight", "currentmodule",
    "module", "tabularcolumns", "graphviz", "digraph", "graph", "inheritance-diagram",
    "plot", "mermaid", "codeauthor", "sectionauthor", "moduleauthor", "default-domain",
    "program", "productionlist", "todolist", "include", "raw",
}  # fmt: skip
# directives whose content is code, shown as it is
_SHOW_CODE = {
    "doctest", "testcode", "testoutput", "testsetup", "testcleanup", "code-cell",
    "ipython", "prompt", "console", "jupyter-execute", "code", "sourcecode", "code-block",
}  # fmt: skip
# docutils' admonitions and Sphinx's labelled boxes, by the word their pages title them with
_ADMONITIONS = {
    name: name.capitalize()
    for name in ("attention", "caution", "danger", "error", "hint", "important", "note", "tip")
} | {"warning": "Warning"}
_LABELLED = {"seealso": "See also", "todo": "To do"}
_VERSIONS = {
    "versionadded": "Added in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
    "versionremoved": "Removed in version",
}


def _rst_segments(source: str) -> list[_Segment]:
    from docutils import nodes
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    _register_directives(source)
    document = new_document("<docqa>", _rst_settings())
    Parser(inliner=_inliner()).parse(source, document)
    names = _Names(
        substitutions={
            name: node.astext()
            for node in document.findall(nodes.substitution_definition)
            for name in node["names"]
        },
        labels=_section_labels(document),
    )
    finder = _LineFinder(source)
    out: list[_Segment] = []
    for node, text in _rst_pieces(document, names):
        line = finder.locate(node)
        lines = max(1, len((node.rawsource or text).split("\n")))
        out.append(_Segment(line, line + lines - 1, text))
    return out


@dataclass(frozen=True)
class _Names:
    """What a document's names stand for: substitutions (`|name|`) and the section titles of
    its labels (`.. _label:` before a section, which `:ref:`label`` shows)."""

    substitutions: dict[str, str]
    labels: dict[str, str]


def _section_labels(document) -> dict[str, str]:
    from docutils import nodes

    labels: dict[str, str] = {}
    for target in document.findall(nodes.target):
        if target.get("refuri") or not target["names"]:
            continue
        # the next node in document order, past other labels (the target before a title
        # closes the section before it, so it is seldom the section's sibling)
        section = target.next_node(
            lambda n: not isinstance(n, (nodes.target, nodes.Text)),
            descend=False,
            siblings=True,
            ascend=True,
        )
        if isinstance(section, nodes.section) and section.children:
            title = " ".join(section[0].astext().split())
            labels.update(dict.fromkeys(target["names"], title))
    return labels


_SETTINGS = None


def _rst_settings():
    global _SETTINGS
    if _SETTINGS is None:
        from docutils.frontend import get_default_settings
        from docutils.parsers.rst import Parser

        settings = get_default_settings(Parser)
        settings.report_level = 5  # say nothing: a document's own errors are not ours
        settings.halt_level = 5
        settings.warning_stream = False
        settings.file_insertion_enabled = False  # `.. include::` must never read a file
        settings.raw_enabled = False
        settings.line_length_limit = MAX_PARSE_CHARS
        settings.syntax_highlight = "none"  # code is shown as it is, never run through Pygments
        _SETTINGS = settings
    return _SETTINGS


def _rst_pieces(node, names):
    """(node, plain text) of every piece of text a rendered page shows, in document order."""
    from docutils import nodes

    for child in node.children:
        if isinstance(child, nodes.system_message):
            # an error docutils could not read past (a malformed table, a broken directive
            # block) shows the source it gave up on: kept as it is, rather than lost
            if child.get("level", 0) >= 3:
                for literal in child.findall(nodes.literal_block):
                    if literal.astext().strip():
                        yield literal, literal.astext()
            continue
        if isinstance(child, (nodes.Invisible, nodes.raw, nodes.label)):
            continue
        if isinstance(child, nodes.field_name):
            yield child, _rst_text(child, names) + ":"
        elif isinstance(child, nodes.row):
            cells = [" ".join(_rst_text(e, names).split()) for e in child.children]
            text = " | ".join(cells)
            if text.strip(" |"):
                yield (child.children[0] if child.children else child), text
        elif isinstance(child, (nodes.bullet_list, nodes.enumerated_list)):
            start = child.get("start", 1) if isinstance(child, nodes.enumerated_list) else None
            for n, item in enumerate(child.children):
                marker = "- " if start is None else f"{start + n}. "
                for k, (piece, text) in enumerate(_rst_pieces(item, names)):
                    yield piece, (marker + text if k == 0 else text)
        elif isinstance(child, nodes.option_group):
            yield child, ", ".join(o.astext() for o in child.children)
        elif isinstance(child, nodes.Element) and (
            child.tagname in _ADMONITIONS or child.get("label")
        ):
            # a page titles a note "Note" and a seealso "See also": the words say what it is
            label = child.get("label") or _ADMONITIONS[child.tagname]
            for k, (piece, text) in enumerate(_rst_pieces(child, names)):
                yield piece, (f"{label}: {text}" if k == 0 else text)
        elif isinstance(child, nodes.TextElement):
            text = _rst_text(child, names)
            if text.strip():
                yield child, text
        else:
            yield from _rst_pieces(child, names)


def _rst_text(node, names: _Names) -> str:
    from docutils import nodes

    if isinstance(node, nodes.Text):
        return node.astext()
    if isinstance(node, (nodes.Invisible, nodes.system_message, nodes.raw)):
        return ""
    if isinstance(node, nodes.footnote_reference):
        return ""
    if isinstance(node, nodes.substitution_reference):
        return names.substitutions.get(node.get("refname", ""), node.astext())
    if isinstance(node, nodes.literal) and node.get("label") in names.labels:
        return names.labels[node["label"]]
    if isinstance(node, nodes.image):
        return node.get("alt", "")
    return "".join(_rst_text(child, names) for child in node.children)


def _role_text(text: str) -> str:
    """What a page shows for a role docutils does not know (Sphinx's cross-references):
    "title <target>" shows its title, "~a.b.c" its last part, "!x" just x."""
    match = _EXPLICIT_TITLE.match(text)
    if match:
        return match.group(1)
    text = text.removeprefix("!")
    if text.startswith("~"):
        return text[1:].rsplit(".", 1)[-1]
    return text


def _inliner():
    """docutils' Inliner, reading a role it does not know as a cross-reference (its text)."""
    from docutils import nodes
    from docutils.parsers.rst import roles, states

    inliner = states.Inliner()
    general = inliner.interpreted

    def interpreted(rawsource, text, role, lineno):
        known, _ = roles.role(role, inliner.language, lineno, inliner.reporter)
        if known:
            return general(rawsource, text, role, lineno)
        shown = _role_text(text)
        if role.rsplit(":", 1)[-1].lower() == "ref" and shown == text:
            # a bare label: its section's title where this document has it (_section_labels)
            return [nodes.literal(rawsource, shown, label=text.strip().lower())], []
        return [nodes.literal(rawsource, shown)], []

    inliner.interpreted = interpreted  # an instance attribute: the class is docutils' own
    return inliner


_REGISTERED: set[str] = set()


def _register_directives(source: str) -> None:
    """Give every directive name in `source` that docutils does not know (Sphinx's, an
    extension's) the general reading of _Directive, once per process."""
    from docutils.parsers.rst import directives
    from docutils.parsers.rst.languages import en
    from docutils.utils import new_document

    names = {name.lower() for name in _DIRECTIVE_NAME.findall(source)} - _REGISTERED
    if not names:
        return
    probe = new_document("<probe>", _rst_settings())
    for name in sorted(names):
        _REGISTERED.add(name)
        base = name.rsplit(":", 1)[-1].lower()
        known, _ = directives.directive(name, en, probe)
        if known is None or base in _SHOW_NOTHING or base in _SHOW_CODE:
            directives.register_directive(name, _directive_class())


_DIRECTIVE = None


def _directive_class():
    global _DIRECTIVE
    if _DIRECTIVE is None:
        from docutils import nodes
        from docutils.parsers.rst import Directive, directives

        class AnyOption(dict):
            """Accepts every option (a directive's options are not shown)."""

            def __missing__(self, key):
                return directives.unchanged

        class GeneralDirective(Directive):
            has_content = True
            optional_arguments = 1
            final_argument_whitespace = True
            option_spec = AnyOption(name=directives.unchanged)

            def run(self):
                base = self.name.rsplit(":", 1)[-1].lower()
                if base in _SHOW_NOTHING or base.startswith("auto"):
                    return []
                if base in _SHOW_CODE:
                    code = "\n".join(self.content)
                    return [nodes.literal_block(code, code)] if code.strip() else []
                argument = " ".join(self.arguments)
                shown = []
                if base in _VERSIONS:
                    version, *rest = argument.split(None, 1) or [""]
                    argument = f"{_VERSIONS[base]} {version}" + (f": {rest[0]}" if rest else ".")
                if argument.strip():
                    words, _ = self.state.inline_text(argument, self.lineno)
                    shown.append(nodes.paragraph(" ".join(self.arguments), "", *words))
                box = nodes.container(label=_LABELLED.get(base, ""))
                box.extend(shown)
                if self.content:
                    self.state.nested_parse(self.content, self.content_offset, box)
                return [box]

        _DIRECTIVE = GeneralDirective
    return _DIRECTIVE


SEARCH_LINES = 2000  # how far ahead of the last piece the next one is looked for


class _LineFinder:
    """The source line of each parsed node, in document order. docutils' own line numbers are
    right for paragraphs and terms, one past the title for titles, and not to be trusted for
    literal blocks (code-block content) or at all for table cells: where the line docutils
    gives (or the one above it) does not hold the node's first line of text, the first line at
    or after the last one found that holds it is taken."""

    def __init__(self, source: str) -> None:
        self.lines = [" ".join(line.split()) for line in source.split("\n")]
        self.cursor = 0

    def locate(self, node) -> int:
        probe = ""
        for line in (node.rawsource or node.astext()).split("\n"):
            probe = " ".join(line.split())
            if probe:
                break
        probe = probe[:60]
        line = getattr(node, "line", None)
        if probe and isinstance(line, int):
            for candidate in (line, line - 1):
                if 1 <= candidate <= len(self.lines) and probe in self.lines[candidate - 1]:
                    self.cursor = candidate - 1
                    return candidate
        if probe:
            for j in range(self.cursor, min(len(self.lines), self.cursor + SEARCH_LINES)):
                if probe in self.lines[j]:
                    self.cursor = j
                    return j + 1
        if isinstance(line, int) and line - 1 >= self.cursor:
            self.cursor = min(line - 1, len(self.lines) - 1)
        return self.cursor + 1
