"""The loaders of office, e-book, table, notebook and e-mail formats: each one's blocks,
headings and provenance out of a small document made by the format's own library, how its
chunks carry that provenance, and a clear reason for what it cannot read."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from docqa.errors import LoaderError
from docqa.ingest import archive
from docqa.ingest.chunker import chunk_document
from docqa.ingest.loaders import load_document
from tests import formats
from tests.fakes import FakeTokenizer


def load(name: str, data: bytes):
    return load_document(Path(name), data)


def rows(doc) -> list[tuple]:
    return [(b.text, b.line_start, b.line_end, b.page, b.heading, b.is_heading) for b in doc.blocks]


# -- documents: heading paths ----------------------------------------------------------------


def test_docx_paragraphs_tables_and_heading_path():
    data = formats.docx(
        [
            ("Title", "Bees"),
            ("", "An   introduction."),
            ("Heading 1", "The hive"),
            ("", "The queen lays eggs."),
            ("Heading 2", "Drones"),
            ("table", "Caste|Role\nDrone|Mating"),
            ("Heading 1", "Honey"),
            ("", ""),  # an empty paragraph is no block
            ("", "Made from nectar."),
        ]
    )
    doc = load("bees.docx", data)
    assert (doc.format, doc.title) == ("docx", "Bees")
    assert rows(doc) == [
        ("Bees", None, None, None, ("Bees",), True),
        ("An introduction.", None, None, None, ("Bees",), False),
        ("The hive", None, None, None, ("Bees", "The hive"), True),
        ("The queen lays eggs.", None, None, None, ("Bees", "The hive"), False),
        ("Drones", None, None, None, ("Bees", "The hive", "Drones"), True),
        ("Caste | Role", None, None, None, ("Bees", "The hive", "Drones"), False),
        ("Drone | Mating", None, None, None, ("Bees", "The hive", "Drones"), False),
        ("Honey", None, None, None, ("Bees", "Honey"), True),
        ("Made from nectar.", None, None, None, ("Bees", "Honey"), False),
    ]
    # the core property's title wins over the Title paragraph
    assert load("b.docx", formats.docx([("", "Text.")], title="Core title")).title == "Core title"


def test_docx_chunks_are_labelled_by_their_heading_path():
    data = formats.docx(
        [("Heading 1", "Alpha"), ("", "alpha " * 60), ("Heading 1", "Beta"), ("", "beta " * 60)]
    )
    chunks = chunk_document(load("a.docx", data), FakeTokenizer(), 128, 0)
    assert [(c.heading, c.line_start, c.page) for c in chunks] == [
        ("Alpha", None, None),
        ("Beta", None, None),
    ]


def test_odt_outline_levels_lists_tables_and_inline_markup():
    body = (
        '<text:p>Two<text:s text:c="3"/>spaces<text:tab/>and a'
        "<text:note><text:note-citation>1</text:note-citation><text:note-body><text:p>FOOTNOTE"
        "</text:p></text:note-body></text:note> note.</text:p>"
        "<text:table-of-content><text:index-body><text:p>Contents entry</text:p>"
        "</text:index-body></text:table-of-content>"
    )
    data = formats.odt(
        [
            ("h1", "DNA"),
            ("p", "Intro."),
            ("h2", "Structure"),
            ("li", "A pairs with T"),
            ("table", "Base|Pair\nG|C"),
            ("h1", "Legacy"),
        ],
        title="The double helix",
        body_xml=body,
    )
    doc = load("dna.odt", data)
    assert (doc.format, doc.title) == ("odt", "The double helix")
    assert rows(doc) == [
        ("DNA", None, None, None, ("DNA",), True),
        ("Intro.", None, None, None, ("DNA",), False),
        ("Structure", None, None, None, ("DNA", "Structure"), True),
        ("A pairs with T", None, None, None, ("DNA", "Structure"), False),
        ("Base | Pair", None, None, None, ("DNA", "Structure"), False),
        ("G | C", None, None, None, ("DNA", "Structure"), False),
        ("Legacy", None, None, None, ("Legacy",), True),
        # footnotes and the table of contents are left out
        ("Two spaces and a note.", None, None, None, ("Legacy",), False),
    ]


# -- slides and notebook cells: the page ------------------------------------------------------


def test_pptx_slides_are_pages_with_their_title_text_and_notes():
    data = formats.pptx(
        [
            ("The Web", ["Hypertext over the Internet", "Proposed in 1989"], "Not the Internet."),
            ("HTTP", ["The protocol"], ""),
        ],
        title="Deck",
    )
    doc = load("web.pptx", data)
    assert (doc.format, doc.title) == ("pptx", "Deck")
    assert rows(doc) == [
        ("The Web", None, None, 1, ("The Web",), True),
        ("Hypertext over the Internet\nProposed in 1989", None, None, 1, ("The Web",), False),
        ("Speaker notes: Not the Internet.", None, None, 1, ("The Web",), False),
        ("HTTP", None, None, 2, ("HTTP",), True),
        ("The protocol", None, None, 2, ("HTTP",), False),
    ]
    chunks = chunk_document(doc, FakeTokenizer(), 256, 32)
    assert [(c.page, c.heading) for c in chunks] == [(1, "The Web"), (2, "HTTP")]


def test_notebook_cells_are_pages_under_markdown_headings():
    data = formats.ipynb(
        [
            ("markdown", "# Pendulum\n\nA weight on a string.", None),
            ("code", "print(2 * 3.14)", "6.28\n"),
            ("markdown", "## Clocks\n\nHuygens, 1656.", None),
            ("code", "x = 1", None),
            ("markdown", "# Appendix", None),
        ]
    )
    doc = load("p.ipynb", data)
    assert (doc.format, doc.title) == ("ipynb", "Pendulum")
    assert rows(doc) == [
        ("Pendulum", None, None, 1, ("Pendulum",), True),
        ("A weight on a string.", None, None, 1, ("Pendulum",), False),
        ("print(2 * 3.14)", None, None, 2, ("Pendulum",), False),
        ("6.28", None, None, 2, ("Pendulum",), False),  # what the cell printed
        ("Clocks", None, None, 3, ("Pendulum", "Clocks"), True),
        ("Huygens, 1656.", None, None, 3, ("Pendulum", "Clocks"), False),
        ("x = 1", None, None, 4, ("Pendulum", "Clocks"), False),
        ("Appendix", None, None, 5, ("Appendix",), True),
    ]
    chunks = chunk_document(doc, FakeTokenizer(), 256, 32)
    assert [c.page for c in chunks] == [1, 2, 3, 4, 5]  # chunks never span cells


def test_a_long_cell_output_is_cut():
    from docqa.ingest.notebook import MAX_OUTPUT_CHARS

    data = formats.ipynb([("code", "for i in range(9999): print(i)", "line\n" * 5000)])
    output = load("log.ipynb", data).blocks[1].text
    assert len(output) <= MAX_OUTPUT_CHARS + 2 and output.endswith("line\n…")


# -- e-books: the chapter ---------------------------------------------------------------------


def test_epub_chapters_in_spine_order_under_their_table_of_contents_titles():
    data = formats.epub(
        [
            ("Origins", "<h1>Origins</h1><p>King John.</p>"),
            ("Chapter 2: Runnymede", "<p>Sealed in 1215.</p><h2>Barons</h2><p>Twenty-five.</p>"),
        ],
        title="Magna Carta",
    )
    doc = load("mc.epub", data)
    assert (doc.format, doc.title) == ("epub", "Magna Carta")
    # the navigation document ("Contents") is in the spine but left out
    assert rows(doc) == [
        ("Origins", None, None, None, ("Origins",), True),
        ("King John.", None, None, None, ("Origins",), False),
        ("Sealed in 1215.", None, None, None, ("Chapter 2: Runnymede",), False),
        ("Barons", None, None, None, ("Chapter 2: Runnymede", "Barons"), True),
        ("Twenty-five.", None, None, None, ("Chapter 2: Runnymede", "Barons"), False),
    ]


# -- tables: row ranges, and the header with every chunk -------------------------------------


def test_csv_rows_keep_their_line_ranges_and_the_delimiter_is_sniffed():
    text = 'lake;area;notes\nBaikal;31722;"deep;\nold"\n\nSuperior;82100;large\n'
    doc = load("lakes.csv", text.encode())
    assert (doc.format, doc.title) == ("csv", None)
    assert rows(doc) == [
        ("lake | area | notes", 1, 1, None, (), True),
        ("Baikal | 31722 | deep; old", 2, 3, None, (), False),
        ("Superior | 82100 | large", 5, 5, None, (), False),
    ]
    tsv = load("t.tsv", b"a,b\tc\n1,2\t3\n")
    assert [b.text for b in tsv.blocks] == ["a,b | c", "1,2 | 3"]


def test_every_chunk_of_a_table_starts_with_its_header_and_holds_whole_rows():
    lines = ["name,score,remark"] + [f"row{i},{i},a fairly long remark {i}" for i in range(1, 41)]
    doc = load("big.csv", ("\n".join(lines) + "\n").encode())
    chunks = chunk_document(doc, FakeTokenizer(), 64, 32)
    assert len(chunks) > 3
    seen = []
    for chunk in chunks:
        header, *body = chunk.text.split("\n")
        assert header == "name | score | remark"
        assert chunk.n_tokens <= 62
        numbers = [int(r.split(" | ")[1]) for r in body]
        # row i is on line i + 1: the chunk's line range is exactly that of its rows
        assert (chunk.line_start, chunk.line_end) == (numbers[0] + 1, numbers[-1] + 1)
        seen += numbers
    assert seen == list(range(1, 41))  # every row once, in order, none cut or repeated


def test_a_row_too_long_for_one_chunk_is_cut_under_the_header():
    doc = load("wide.csv", ("h1,h2\nshort,row\nlong," + "word " * 150 + "\n").encode())
    chunks = chunk_document(doc, FakeTokenizer(), 64, 32)
    assert [c.text.split("\n")[0] for c in chunks] == ["h1 | h2"] * len(chunks)
    assert [(c.line_start, c.line_end) for c in chunks] == [(2, 2)] + [(3, 3)] * (len(chunks) - 1)
    assert sum(c.text.count("word") for c in chunks) == 150


def test_xlsx_sheets_are_headings_and_rows_keep_their_numbers():
    data = formats.xlsx(
        {
            "Wonders": [["Wonder", "Built"], ["Pyramid", "c. 2560 BC"], [None], ["Colossus", 280]],
            "Lists": [["Author"], ["Antipater"]],
        },
        title="Seven wonders",
    )
    doc = load("w.xlsx", data)
    assert (doc.format, doc.title) == ("xlsx", "Seven wonders")
    assert rows(doc) == [
        ("Wonder | Built", 1, 1, None, ("Wonders",), True),
        ("Pyramid | c. 2560 BC", 2, 2, None, ("Wonders",), False),
        ("Colossus | 280", 4, 4, None, ("Wonders",), False),  # row 3 is empty
        ("Author", 1, 1, None, ("Lists",), True),
        ("Antipater", 2, 2, None, ("Lists",), False),
    ]
    chunks = chunk_document(doc, FakeTokenizer(), 256, 32)
    assert [(c.heading, c.line_start, c.line_end, c.text) for c in chunks] == [
        ("Wonders", 2, 4, "Wonder | Built\nPyramid | c. 2560 BC\nColossus | 280"),
        ("Lists", 2, 2, "Author\nAntipater"),
    ]


def test_a_far_off_cell_does_not_make_a_row_of_thousands_of_empty_cells():
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["name", None, "value"])
    book.active["XFD2"] = "far"  # column 16,384
    book.active["A3"] = "near"
    data = io.BytesIO()
    book.save(data)
    assert [b.text for b in load("wide.xlsx", data.getvalue()).blocks] == [
        "name |  | value",
        "… | far",
        "near",
    ]


def test_a_sheet_claiming_a_billion_rows_is_refused_not_walked(monkeypatch):
    from docqa.ingest import tables

    monkeypatch.setattr(tables, "MAX_ROWS", 1000)
    data = formats.xlsx({"S": [["a"]] + [[None]] * 1200 + [["late"]]})
    with pytest.raises(LoaderError, match="spreadsheet too large: sheet 'S' goes past 1,000 rows"):
        load("big.xlsx", data)


# -- e-mail -----------------------------------------------------------------------------------


def test_eml_headers_body_and_attachments_under_the_subject():
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "Cable exhibit"
    message["From"] = "Margaret <m@museum.example>"
    message["To"] = "guides@museum.example"
    message["Date"] = "Tue, 14 Oct 2025 09:12:00 +0100"
    message.set_content("Dear guides,\n\nThe Great Eastern laid the cable in 1866.\n")
    message.add_alternative("<p>HTML copy that is not read</p>", subtype="html")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="map.pdf")
    doc = load("m.eml", bytes(message))
    top = ("Cable exhibit",)
    assert (doc.format, doc.title) == ("eml", "Cable exhibit")
    assert rows(doc) == [
        ("Cable exhibit", None, None, None, top, True),
        (
            "From: Margaret <m@museum.example>\nTo: guides@museum.example\n"
            "Date: Tue, 14 Oct 2025 09:12:00 +0100",
            None,
            None,
            None,
            top,
            False,
        ),
        ("Dear guides,", None, None, None, top, False),
        ("The Great Eastern laid the cable in 1866.", None, None, None, top, False),
        ("Attachments: map.pdf", None, None, None, top, False),
    ]


def test_an_html_only_message_is_read_through_the_html_loader():
    data = formats.eml("S", "a@x", "b@x", "Tue, 14 Oct 2025 09:12:00 +0100", "plain")
    html_only = data.replace(b"Content-Type: text/plain", b"Content-Type: text/html").replace(
        b"plain", b"<h2>Part</h2><p>Body <b>text</b>.</p>"
    )
    doc = load("h.eml", html_only)
    assert [(b.text, b.heading) for b in doc.blocks][-2:] == [
        ("Part", ("S", "Part")),
        ("Body text.", ("S", "Part")),
    ]


# -- what cannot be read ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("a.docx", formats.office_encrypted, "password-protected DOCX (encrypted by Office)"),
        ("a.pptx", formats.office_encrypted, "password-protected PPTX (encrypted by Office)"),
        ("a.xlsx", formats.office_encrypted, "password-protected XLSX (encrypted by Office)"),
        (
            "old.docx",
            lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1000),
            "not a DOCX file but an OLE compound file, like an old binary .doc",
        ),
        ("a.odt", formats.encrypted_odt, "password-protected ODT (its content is encrypted)"),
        (
            "a.epub",
            lambda: formats.epub([("One", "<p>x</p>")], encrypted=True),
            "DRM-protected EPUB (its chapters are encrypted)",
        ),
        ("a.docx", lambda: b"PK\x03\x04 not really", "broken DOCX file (not a readable zip"),
        ("a.epub", lambda: formats.docx([("", "x")]), "not an EPUB file (it has no META-INF"),
        ("a.odt", lambda: formats.epub([("x", "<p>y</p>")]), "not an OpenDocument text file"),
        (
            "a.pptx",
            lambda: formats.docx([("", "x")]),
            "not a PPTX file but a DOCX file with the wrong extension (rename it .docx)",
        ),
        ("a.xlsx", lambda: formats.odt([("p", "x")]), "not an XLSX file (no [Content_Types].xml"),
        ("a.docx", lambda: b"", "empty file"),
        ("a.ipynb", lambda: b'{"cells": [', "broken notebook: not JSON ("),
        ("a.ipynb", lambda: b"[1, 2]", "not a Jupyter notebook (its JSON has no nbformat"),
        ("a.ipynb", lambda: b'{"nbformat": 4, "cells": 7}', "broken notebook: "),
        (
            "a.csv",
            lambda: b'a,b\n"x' + b"y" * 200_000 + b'"\n',
            "broken CSV at line 2: a cell of over 131,072 characters (an unclosed quote?)",
        ),
        ("a.eml", lambda: b"no headers here\n", "not an e-mail message (no From, To, Date"),
        (
            "a.eml",
            lambda: (
                b"From: a@x\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data"
                b"\n\nMIAGCSqGSIb3DQEHA6CAMIACAQAx"
            ),
            "encrypted e-mail (PGP or S/MIME)",
        ),
    ],
)
def test_what_cannot_be_read_gets_a_reason(name, make, reason):
    with pytest.raises(LoaderError) as caught:
        load(name, make())
    assert str(caught.value).startswith(reason), str(caught.value)


@pytest.mark.parametrize("name", ["a.docx", "a.pptx", "a.xlsx"])
def test_a_zip_bomb_is_refused_by_its_declared_size_without_inflating_it(name, monkeypatch):
    base = {"a.docx": formats.docx, "a.pptx": formats.pptx, "a.xlsx": formats.xlsx}[name]
    sample = base({"a.docx": [("", "x")], "a.pptx": [], "a.xlsx": {"S": [["x"]]}}[name])
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 4_000_000)
    bomb = formats.zip_bomb("docProps/app.xml", 5 << 20, sample)
    inflated = []
    monkeypatch.setattr(archive.zipfile.ZipFile, "read", lambda *a: inflated.append(a))
    with pytest.raises(LoaderError, match=r"member 'docProps/app.xml' unpacks to 5.24 MB, over"):
        load(name, bomb)
    assert inflated == []


def test_members_that_add_up_past_the_total_are_refused(monkeypatch):
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 3_000_000)
    bomb = formats.zip_bomb("OEBPS/big.css", 4 << 20, formats.epub([("One", "<p>x</p>")]))
    with pytest.raises(LoaderError, match=r"^EPUB unpacks to 4.2 MB, over the 3 MB limit"):
        load("b.epub", bomb)
