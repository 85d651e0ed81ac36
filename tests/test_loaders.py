"""Loaders: each format's blocks, headings and provenance, and a clear reason for bad files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from docqa.errors import LoaderError
from docqa.ingest.loaders import load_document
from tests.conftest import SAMPLE_DOCS


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_markdown_headings_and_line_numbers(tmp_path):
    path = write(tmp_path, "a.md", "# Title\n\nIntro line one\nline two\n\n## Part\n\nBody.\n")
    doc = load_document(path)
    assert doc.title == "Title"
    assert [(b.text, b.line_start, b.line_end, b.heading, b.is_heading) for b in doc.blocks] == [
        ("Title", 1, 1, ("Title",), True),  # the heading as its page shows it
        ("Intro line one\nline two", 3, 4, ("Title",), False),
        ("Part", 6, 6, ("Title", "Part"), True),
        ("Body.", 8, 8, ("Title", "Part"), False),
    ]


def test_markdown_code_fence_keeps_hash_lines_and_blank_lines(tmp_path):
    path = write(tmp_path, "c.md", "# T\n\n```sh\n# not a heading\n\necho hi\n```\n\nAfter.\n")
    blocks = load_document(path).blocks
    assert [b.is_heading for b in blocks] == [True, False, False]
    assert blocks[1].text == "# not a heading\n\necho hi"  # the code, without its fence
    assert (blocks[1].line_start, blocks[1].line_end) == (3, 7)


def test_a_comment_in_a_code_fence_inside_a_paragraph_is_not_a_heading(tmp_path):
    path = write(
        tmp_path, "f.md", "# Setup\n\nRun this:\n```bash\n# install deps\npip install x\n```\n"
    )
    blocks = load_document(path).blocks
    assert [b.heading for b in blocks] == [("Setup",), ("Setup",)]


def test_html_paragraph_over_several_source_lines_keeps_its_range(tmp_path):
    from docqa.ingest.chunker import chunk_document
    from tests.fakes import FakeTokenizer

    html = "<html><body>\n<p>one\ntwo\nthree\nfour</p>\n</body></html>"
    doc = load_document(write(tmp_path, "p.html", html))
    [chunk] = chunk_document(doc, FakeTokenizer(), 64, 0)
    assert (chunk.line_start, chunk.line_end) == (2, 5)


def test_rst_sections_nest_by_adornment_order(tmp_path):
    text = "=====\nTitle\n=====\n\nIntro.\n\nSection\n-------\n\nText.\n\nSub\n~~~\n\nMore.\n"
    blocks = load_document(write(tmp_path, "a.rst", text)).blocks
    assert [b.heading for b in blocks if not b.is_heading] == [
        ("Title",),
        ("Title", "Section"),
        ("Title", "Section", "Sub"),
    ]


def test_plain_text_headings(tmp_path):
    text = "THE TOWER\n\nIt is tall.\n\nHISTORY\n\nBuilt in 1889.\n"
    doc = load_document(write(tmp_path, "t.txt", text))
    assert doc.title == "THE TOWER"
    assert doc.blocks[-1].heading == ("THE TOWER", "HISTORY")
    assert doc.blocks[-1].line_start == 7


def test_html_drops_scripts_and_styles_and_keeps_headings(tmp_path):
    html = (
        "<html><head><title>Doc</title><style>p { color: red }</style></head>\n<body>\n"
        "<h1>Main</h1>\n<script>var secret = 'SCRIPTTEXT';</script>\n"
        "<p>First <b>bold</b> paragraph.</p>\n<h2>Sub</h2>\n<ul><li>item one</li>\n"
        "<li>item two</li></ul>\n</body></html>"
    )
    doc = load_document(write(tmp_path, "a.html", html))
    text = " ".join(b.text for b in doc.blocks)
    assert "SCRIPTTEXT" not in text and "color" not in text
    assert doc.title == "Doc"
    para = next(b for b in doc.blocks if b.text.startswith("First"))
    assert para.text == "First bold paragraph."
    assert para.heading == ("Main",) and para.line_start == 5
    items = [b for b in doc.blocks if b.text.startswith("item")]
    assert [(b.text, b.heading, b.line_start) for b in items] == [
        ("item one", ("Main", "Sub"), 7),
        ("item two", ("Main", "Sub"), 8),
    ]


def test_html_drops_site_navigation_but_not_content_that_mentions_it(tmp_path):
    html = (
        "<html><body>\n<div class='navheader'><table><tr><td><a href='p.html'>Prev</a></td>"
        "<td><a href='u.html'>Up</a></td></tr></table></div>\n"
        "<nav><a href='/'>Home</a></nav>\n<div role='navigation'>Next</div>\n"
        "<h1>Title</h1>\n<p class='navigation-note'>Navigation keys move the cursor.</p>\n"
        "<div class='footer navfooter'><a href='n.html'>Next page</a></div>\n</body></html>"
    )
    doc = load_document(write(tmp_path, "a.html", html))
    assert [b.text for b in doc.blocks] == ["Title", "Navigation keys move the cursor."]


def test_pdf_blocks_carry_page_numbers():
    doc = load_document(SAMPLE_DOCS / "technology" / "linux_kernel.pdf")
    assert doc.format == "pdf" and doc.title == "The Linux Kernel"
    pages = {b.page for b in doc.blocks}
    assert pages == {1, 2, 3}
    assert all(b.line_start is None for b in doc.blocks)


def _encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n\t \n", "file holds only whitespace"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1"), "not UTF-8 text"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "broken PDF"),
        ("fake.pdf", b"this is not a pdf at all", "not a PDF file"),
        ("locked.pdf", _encrypted_pdf(), "encrypted PDF"),
        ("data.xyz", b"hello", "unsupported file type"),
    ],
)
def test_bad_files_get_a_clear_reason(tmp_path, name, data, reason):
    with pytest.raises(LoaderError) as info:
        load_document(write(tmp_path, name, data))
    assert reason in str(info.value)


def test_utf16_with_bom_is_read(tmp_path):
    doc = load_document(write(tmp_path, "u.txt", "Hello UTF-16 world.".encode("utf-16")))
    assert doc.blocks[0].text == "Hello UTF-16 world."


def test_broken_symlink_is_reported(tmp_path):
    link = tmp_path / "gone.md"
    link.symlink_to(tmp_path / "missing.md")
    with pytest.raises(LoaderError, match="file not found"):
        load_document(link)


def test_html_nested_past_the_parsers_limit_is_a_clear_error_not_lost_text(tmp_path):
    html = "<div>" * 5000 + "deep text" + "</div>" * 5000
    with pytest.raises(LoaderError, match="cannot parse HTML: Excessive depth"):
        load_document(write(tmp_path, "deep.html", html))


def test_html_text_after_a_start_tag_over_two_lines_is_on_the_line_it_starts(tmp_path):
    html = '<html><body>\n<p class="x"\n   id="y">text here</p>\n</body></html>'
    doc = load_document(write(tmp_path, "t.html", html))
    assert [(b.text, b.line_start, b.line_end) for b in doc.blocks] == [("text here", 3, 3)]
