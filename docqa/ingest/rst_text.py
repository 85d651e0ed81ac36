"""The plain text of reStructuredText, read by docutils (docqa.ingest.markup's reST half).

Roles docutils does not know (Sphinx's cross-references) read as their title or last name;
directives it does not know are registered, once per name, to GeneralDirective, which shows
what a rendered page shows of them (their text, their code, or nothing). Files are never
read (`.. include::`), raw HTML never passes, and nothing is highlighted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Directive, Parser, directives, roles, states
from docutils.parsers.rst.languages import en
from docutils.utils import new_document

from docqa.ingest.markup import MAX_PARSE_CHARS, Segment

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


def segments(source: str) -> list[Segment]:

    _register_directives(source)
    document = new_document("<docqa>", _settings())
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
    out: list[Segment] = []
    for node, text in _pieces(document, names):
        line = finder.locate(node)
        lines = max(1, len((node.rawsource or text).split("\n")))
        out.append(Segment(line, line + lines - 1, text))
    return out


@dataclass(frozen=True)
class _Names:
    """What a document's names stand for: substitutions (`|name|`) and the section titles of
    its labels (`.. _label:` before a section, which `:ref:`label`` shows)."""

    substitutions: dict[str, str]
    labels: dict[str, str]


def _section_labels(document) -> dict[str, str]:

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


@cache
def _settings():
    settings = get_default_settings(Parser)
    settings.report_level = 5  # say nothing: a document's own errors are not ours
    settings.halt_level = 5
    settings.warning_stream = False
    settings.file_insertion_enabled = False  # `.. include::` must never read a file
    settings.raw_enabled = False
    settings.line_length_limit = MAX_PARSE_CHARS
    settings.syntax_highlight = "none"  # code is shown as it is, never run through Pygments
    return settings


def _pieces(node, names):
    """(node, plain text) of every piece of text a rendered page shows, in document order."""
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
            yield child, _text(child, names) + ":"
        elif isinstance(child, nodes.row):
            cells = [" ".join(_text(e, names).split()) for e in child.children]
            text = " | ".join(cells)
            if text.strip(" |"):
                yield (child.children[0] if child.children else child), text
        elif isinstance(child, (nodes.bullet_list, nodes.enumerated_list)):
            start = child.get("start", 1) if isinstance(child, nodes.enumerated_list) else None
            for n, item in enumerate(child.children):
                marker = "- " if start is None else f"{start + n}. "
                for k, (piece, text) in enumerate(_pieces(item, names)):
                    yield piece, (marker + text if k == 0 else text)
        elif isinstance(child, nodes.option_group):
            yield child, ", ".join(o.astext() for o in child.children)
        elif isinstance(child, nodes.Element) and (
            child.tagname in _ADMONITIONS or child.get("label")
        ):
            # a page titles a note "Note" and a seealso "See also": the words say what it is
            label = child.get("label") or _ADMONITIONS[child.tagname]
            for k, (piece, text) in enumerate(_pieces(child, names)):
                yield piece, (f"{label}: {text}" if k == 0 else text)
        elif isinstance(child, nodes.TextElement):
            text = _text(child, names)
            if text.strip():
                yield child, text
        else:
            yield from _pieces(child, names)


def _text(node, names: _Names) -> str:

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
    return "".join(_text(child, names) for child in node.children)


def role_text(text: str) -> str:
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
    inliner = states.Inliner()
    general = inliner.interpreted

    def interpreted(rawsource, text, role, lineno):
        known, _ = roles.role(role, inliner.language, lineno, inliner.reporter)
        if known:
            return general(rawsource, text, role, lineno)
        shown = role_text(text)
        if role.rsplit(":", 1)[-1].lower() == "ref" and shown == text:
            # a bare label: its section's title where this document has it (_section_labels)
            return [nodes.literal(rawsource, shown, label=text.strip().lower())], []
        return [nodes.literal(rawsource, shown)], []

    inliner.interpreted = interpreted  # an instance attribute: the class is docutils' own
    return inliner


_REGISTERED: set[str] = set()


def _register_directives(source: str) -> None:
    """Give every directive name in `source` that docutils does not know (Sphinx's, an
    extension's) the general reading of GeneralDirective, once per process."""

    names = {name.lower() for name in _DIRECTIVE_NAME.findall(source)} - _REGISTERED
    if not names:
        return
    probe = new_document("<probe>", _settings())
    for name in sorted(names):
        _REGISTERED.add(name)
        base = name.rsplit(":", 1)[-1].lower()
        known, _ = directives.directive(name, en, probe)
        if known is None or base in _SHOW_NOTHING or base in _SHOW_CODE:
            directives.register_directive(name, GeneralDirective)


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
