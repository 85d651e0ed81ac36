"""The plain view of Markdown and reStructuredText (docqa.ingest.markup): what each construct
becomes, that line ranges still point at the source, and that chunks keep their source."""

from __future__ import annotations

from pathlib import Path

import pytest

from docqa.ingest import markup
from docqa.ingest.chunker import chunk_document
from docqa.ingest.loaders import load_document
from tests.fakes import FakeTokenizer

SPHINX = """\
.. _intro:

Title with ``code``
===================

.. note::
   The :mod:`secrets` module is better than :func:`~random.random`.

The very first `article <https://example.com/a>`_ about Python, see :ref:`the guide <guide>`
and |project| and :pep:`8`.

.. |project| replace:: **docqa**

.. versionadded:: 3.0
   The ``--pk`` option.

.. code-block:: python
   :linenos:

   def f(*args):
       return 1

Example::

    $ docqa ask "x"

.. index:: single: secrets

.. toctree::
   :maxdepth: 2

   intro

.. autofunction:: sqlite_utils.db.Table.insert

.. A comment
   over two lines.

* a bullet with *emphasis* and :kbd:`Ctrl-C`

:param x: the *x* value
"""


def load(tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_document(path)


def rows(doc):
    return [(b.text, b.line_start, b.line_end, b.heading) for b in doc.blocks]


def test_rst_roles_targets_and_directives_become_the_text_a_page_shows(tmp_path):
    doc = load(tmp_path, "guide.rst", SPHINX)
    h = ("Title with code",)
    assert doc.title == "Title with code"
    assert rows(doc) == [
        ("Title with code", 3, 4, h),
        ("Note: The secrets module is better than random.", 6, 7, h),
        ("The very first article about Python, see the guide\nand docqa and PEP 8.", 9, 10, h),
        ("Added in version 3.0: The --pk option.", 14, 15, h),
        ("def f(*args):\n    return 1", 20, 21, h),
        ("Example:", 23, 23, h),
        ('$ docqa ask "x"', 25, 25, h),
        ("- a bullet with emphasis and Ctrl-C", 39, 39, h),
        ("param x:\nthe x value", 41, 41, h),
    ]


MARKDOWN = """\
# The `foo` module

See [the docs](https://example.com) and ![a chart](c.png), *emphasis*, **strong**, `code`.
AT&amp;T &copy; and [a reference][r] and <https://auto.link>.

[r]: https://example.com/r "title"

<!-- a comment
over lines -->

```python
x = [1](2)
```

- item *one*
- item two

| a | b |
|---|---|
| `1` | [x](y) |
"""


def test_markdown_links_emphasis_entities_and_comments_become_plain_text(tmp_path):
    doc = load(tmp_path, "foo.md", MARKDOWN)
    h = ("The foo module",)
    assert rows(doc) == [
        ("The foo module", 1, 1, h),
        (
            "See the docs and a chart, emphasis, strong, code.\n"
            "AT&T © and a reference and https://auto.link.",
            3,
            4,
            h,
        ),
        ("x = [1](2)", 11, 13, h),  # code keeps its code
        ("- item one\n- item two", 15, 16, h),
        ("a | b\n1 | x", 18, 20, h),
    ]


def test_a_literal_block_with_blank_lines_stays_one_block_over_all_its_lines(tmp_path):
    text = "Intro::\n\n    first line\n\n    after a blank line\n\nProse.\n"
    doc = load(tmp_path, "lit.rst", text)
    assert rows(doc) == [
        ("Intro:", 1, 1, ()),
        ("first line\n\nafter a blank line", 3, 5, ()),
        ("Prose.", 7, 7, ()),
    ]


def test_chunks_keep_their_source_lines_beside_the_plain_text(tmp_path):
    doc = load(tmp_path, "guide.rst", SPHINX)
    chunks = chunk_document(doc, FakeTokenizer(), 256, 0)
    source = SPHINX.split("\n")
    for chunk in chunks:
        assert chunk.source == "\n".join(source[chunk.line_start - 1 : chunk.line_end])
        assert ":mod:" not in chunk.text and "`" not in chunk.text
    assert any(":mod:`secrets`" in c.source for c in chunks)
    plain = load(tmp_path, "plain.txt", "No markup here, *ever*.\n")
    assert [c.source for c in chunk_document(plain, FakeTokenizer(), 256, 0)] == [None]


def test_include_and_raw_never_read_a_file_or_pass_html_through(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret word is swordfish\n")
    text = (
        f".. include:: {secret}\n\n.. literalinclude:: {secret}\n\n"
        ".. raw:: html\n\n   <script>alert(1)</script>\n\nText after them.\n"
    )
    doc = load(tmp_path, "inc.rst", text)
    assert rows(doc) == [("Text after them.", 9, 9, ())]


def test_a_file_the_parser_cannot_read_keeps_its_source_text(tmp_path, monkeypatch):
    def broken(source):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(markup, "_rst_segments", broken)
    doc = load(tmp_path, "a.rst", "Uses :func:`len`.\n")
    assert rows(doc) == [("Uses :func:`len`.", 1, 1, ())]
    monkeypatch.setattr(markup, "MAX_PARSE_CHARS", 10)  # too long to parse: source kept too
    doc = load(tmp_path, "b.md", "A [link](https://x.org) here.\n")
    assert rows(doc) == [("A [link](https://x.org) here.", 1, 1, ())]


@pytest.mark.parametrize(
    ("name", "text"),
    [("c.rst", ".. a comment\n\n.. _target:\n"), ("c.md", "<!-- c -->\n\n[r]: https://x.org\n")],
)
def test_a_file_of_only_markup_has_no_text(tmp_path, name, text):
    from docqa.errors import LoaderError

    with pytest.raises(LoaderError, match="no text found in the file"):
        load(tmp_path, name, text)


def test_sphinx_roles_read_as_their_title_or_last_name():
    from docqa.ingest.rst_text import role_text

    assert role_text("text <label>") == "text"
    assert role_text("~sqlite_utils.db.Table.insert") == "insert"
    assert role_text("!Table") == "Table"
    assert role_text("round") == "round"


def test_admonitions_and_see_also_boxes_are_named_as_their_pages_title_them(tmp_path):
    text = (
        ".. warning:: This deletes data.\n\n.. seealso:: :func:`other`\n\n"
        ".. admonition:: Custom title\n\n   Body text.\n"
    )
    assert rows(load(tmp_path, "adm.rst", text)) == [
        ("Warning: This deletes data.", 1, 1, ()),
        ("See also: other", 3, 3, ()),
        ("Custom title", 5, 5, ()),
        ("Body text.", 7, 7, ()),
    ]


def test_a_bare_ref_shows_its_section_title_when_the_document_has_it(tmp_path):
    text = (
        "Intro\n=====\n\nSee :ref:`Saving <saving>`, :ref:`saving` and :ref:`elsewhere`.\n\n"
        ".. _saving:\n\nSaving your ``changes``\n----------------------\n\nCommit.\n"
    )
    doc = load(tmp_path, "refs.rst", text)
    assert doc.blocks[1].text == "See Saving, Saving your changes and elsewhere."
