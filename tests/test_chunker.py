"""The chunker: token limits by the embedder's own tokenizer, coverage, overlap, structure."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from docqa.adapters.embedder import HFTokenizer
from docqa.config import Settings, resolve_embedder_path
from docqa.ingest.chunker import chunk_document
from docqa.ingest.loaders import load_document
from docqa.ingest.tables import TABLE_FORMATS
from docqa.records import Block, LoadedDocument
from tests.conftest import SAMPLE_DOCS
from tests.fakes import FakeTokenizer

SAMPLES = sorted(p for p in SAMPLE_DOCS.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def minilm_tokenizer() -> HFTokenizer:
    return HFTokenizer(resolve_embedder_path(Settings(home=Path("."))) / "tokenizer.json")


def _covered_lines(chunks) -> set[int]:
    lines: set[int] = set()
    for c in chunks:
        lines.update(range(c.line_start, c.line_end + 1))
    return lines


@pytest.mark.models  # the bundled embedder's tokenizer
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_chunks_fit_the_window_and_cover_the_document(path, minilm_tokenizer):
    doc = load_document(path)
    chunks = chunk_document(doc, minilm_tokenizer, max_tokens=256, overlap=32)
    assert chunks
    for c in chunks:
        real = len(minilm_tokenizer.offsets([c.text])[0]) + minilm_tokenizer.specials
        assert real <= 256
        assert c.n_tokens + minilm_tokenizer.specials == real
    if all(b.page is not None for b in doc.blocks):  # PDF pages, slides, notebook cells
        assert {c.page for c in chunks} == {b.page for b in doc.blocks}
    elif all(b.line_start is not None for b in doc.blocks):
        # a table's header row is repeated in its chunks, which cite the lines of their rows
        header = doc.format in TABLE_FORMATS
        lines = [b for b in doc.blocks if not (header and b.is_heading)]
        wanted = {n for b in lines for n in range(b.line_start, b.line_end + 1)}
        assert wanted <= _covered_lines(chunks)
    else:  # cited by heading path (Word, OpenDocument, EPUB, e-mail): no block is lost
        assert all(any(b.text in c.text for c in chunks) for b in doc.blocks)


@pytest.mark.models  # the bundled embedder's tokenizer
def test_long_section_is_split_with_overlap(minilm_tokenizer):
    sentences = [
        f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(120)
    ]
    doc = LoadedDocument("x.txt", "text", None, (Block(" ".join(sentences), 1, 1),))
    chunks = chunk_document(doc, minilm_tokenizer, max_tokens=128, overlap=20)
    assert len(chunks) > 3
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.text[-40:].split()[-1] in b.text[:200]  # the tail of a reappears in b
        assert len(minilm_tokenizer.offsets([b.text])[0]) + 2 <= 128


def _markdown(*sections: tuple[str, tuple[str, ...], list[str]]) -> LoadedDocument:
    """A document of (heading line, heading path, paragraphs) sections, one line a block,
    a blank line between blocks."""
    blocks, line = [], 1
    for title, path, paragraphs in sections:
        blocks.append(Block(title, line, line, heading=path, is_heading=True))
        line += 2
        for text in paragraphs:
            blocks.append(Block(text, line, line, heading=path))
            line += 2
    return LoadedDocument("x.md", "markdown", None, tuple(blocks))


def _rows(chunks):
    return [(c.line_start, c.line_end, c.heading) for c in chunks]


def test_a_short_section_and_the_next_get_a_chunk_each_labelled_by_its_own_heading():
    """The issue: a short section was packed into the chunk before it, which kept only the
    first section's heading, so text about B was cited as A's."""
    doc = _markdown(
        ("# A", ("A",), ["alpha " * 40]),
        ("# B", ("B",), ["beta " * 40]),
        ("# C", ("C",), ["gamma " * 30, "delta " * 30]),
    )
    chunks = chunk_document(doc, FakeTokenizer(), 256, 16)
    assert _rows(chunks) == [(1, 3, "A"), (5, 7, "B"), (9, 13, "C")]
    assert [c.text.split()[0] for c in chunks] == ["#", "#", "#"]  # no overlap across sections


def test_a_tiny_section_shares_the_chunk_before_it_and_the_label_names_both():
    doc = _markdown(
        ("# Guide", ("Guide",), ["Read this first. " * 10]),
        ("## Usage", ("Guide", "Usage"), ["Run it like this. " * 10]),
        ("## License", ("Guide", "License"), ["MIT."]),
        ("## Install", ("Guide", "Install"), ["Copy the files. " * 10]),
    )
    chunks = chunk_document(doc, FakeTokenizer(), 256, 16)
    assert _rows(chunks) == [
        (1, 3, "Guide"),
        (5, 11, "Guide > Usage · Guide > License"),
        (13, 15, "Guide > Install"),
    ]


def test_a_heading_with_nothing_under_it_leads_into_its_subsection():
    """ "# Part II" straight before "## Chapter 1" starts Chapter 1's chunk, never ends the
    chunk before it; the chunk is named by the subsection's path, which names Part II."""
    doc = _markdown(
        ("# Part I", ("Part I",), ["one " * 50]),
        ("# Part II", ("Part II",), []),
        ("## Chapter 1", ("Part II", "Chapter 1"), ["two " * 50]),
    )
    chunks = chunk_document(doc, FakeTokenizer(), 256, 16)
    assert _rows(chunks) == [(1, 3, "Part I"), (5, 9, "Part II > Chapter 1")]
    assert chunks[1].text.startswith("# Part II\n\n## Chapter 1\n\ntwo")


def test_a_tiny_introduction_is_named_beside_the_subsection_it_shares_a_chunk_with():
    doc = _markdown(
        ("# Guide", ("Guide",), ["How to set up."]),
        ("## Install", ("Guide", "Install"), ["Copy the files. " * 10]),
        ("## Usage", ("Guide", "Usage"), ["Run it like this. " * 10]),
    )
    chunks = chunk_document(doc, FakeTokenizer(), 256, 16)
    assert _rows(chunks) == [(1, 7, "Guide · Guide > Install"), (9, 11, "Guide > Usage")]


def test_a_tiny_lead_in_starts_a_long_section_and_its_later_chunks_name_it_alone():
    doc = _markdown(
        ("# Manual", ("Manual",), []),
        ("## Setup", ("Manual", "Setup"), [f"Step {i} is done with care. " * 4 for i in range(8)]),
    )
    chunks = chunk_document(doc, FakeTokenizer(), 64, 8)
    assert len(chunks) > 2
    assert chunks[0].text.startswith("# Manual\n\n## Setup\n\nStep 0")
    assert {c.heading for c in chunks} == {"Manual > Setup"}
    assert all("# Manual" not in c.text for c in chunks[1:])  # overlap stays in the section


def test_a_run_of_tiny_sections_is_cut_so_a_chunk_names_at_most_max_headings():
    from docqa.ingest.chunker import MAX_HEADINGS

    doc = _markdown(
        ("# Glossary", ("Glossary",), []),
        *((f"## T{i}", ("Glossary", f"T{i}"), [f"Term {i}."]) for i in range(10)),
    )
    chunks = chunk_document(doc, FakeTokenizer(), 256, 16)
    assert MAX_HEADINGS == 4
    assert [c.heading for c in chunks] == [
        " · ".join(f"Glossary > T{i}" for i in range(a, b)) for a, b in ((0, 4), (4, 8), (8, 10))
    ]
    assert (chunks[0].line_start, chunks[-1].line_end) == (1, 41)


def test_mars_citations_name_the_section_their_words_are_in():
    """sample_docs/science/mars.html: "Atmosphere and climate" used to run on into "Moons"."""
    doc = load_document(SAMPLE_DOCS / "science" / "mars.html")
    chunks = chunk_document(doc, FakeTokenizer(), 256, 32)
    top = "Mars, the Red Planet"
    assert _rows(chunks) == [
        (18, 19, top),
        (21, 27, f"{top} > Basic facts"),
        (30, 31, f"{top} > Atmosphere and climate"),
        (33, 34, f"{top} > Surface features"),
        (36, 37, f"{top} > Moons"),
        (39, 48, f"{top} > Exploration"),
    ]
    [atmosphere] = [c for c in chunks if c.heading.endswith("Atmosphere and climate")]
    assert "Phobos" not in atmosphere.text and "Olympus" not in atmosphere.text


@pytest.mark.parametrize("path", [p for p in SAMPLES if p.suffix != ".pdf"], ids=lambda p: p.name)
def test_every_sample_chunk_is_labelled_by_the_heading_of_each_block_it_holds(path):
    """No sample section is tiny, so each chunk holds one section and is labelled by it."""
    doc = load_document(path)
    for c in chunk_document(doc, FakeTokenizer(), 256, 32):
        if c.line_start is not None:
            held = {
                " > ".join(b.heading)
                for b in doc.blocks
                if c.line_start <= b.line_start and b.line_end <= c.line_end
            }
        else:  # formats cited by heading path (and slide or cell): the paragraphs it holds
            held = {
                " > ".join(b.heading)
                for b in doc.blocks
                if not b.is_heading and b.page == c.page and b.text in c.text
            }
        assert held == {c.heading}


_sections = st.lists(
    st.tuples(st.integers(1, 3), st.lists(st.integers(1, 60), max_size=3)), min_size=1, max_size=12
)


@settings(max_examples=150, deadline=None)
@given(sections=_sections, max_tokens=st.integers(12, 120), overlap=st.integers(0, 16))
def test_property_a_chunk_spans_sections_only_when_all_but_one_are_tiny(
    sections, max_tokens, overlap
):
    """Random heading trees: a chunk holds at most one section that is not tiny, its label
    is its section's path when it holds one, and names each section it holds otherwise."""
    from docqa.ingest.chunker import HEADING_SEPARATOR, TINY_SECTION_TOKENS

    tok = FakeTokenizer()
    blocks, line, stack, size = [], 1, [], {}
    for i, (level, paragraphs) in enumerate(sections):
        stack = [*stack[: level - 1], f"H{i}"]
        path = tuple(stack)
        blocks.append(Block(f"# H{i}", line, line, heading=path, is_heading=True))
        line += 2
        for j, n in enumerate(paragraphs):
            blocks.append(Block(" ".join([f"w{i}x{j}"] * n), line, line, heading=path))
            line += 2
        size[path] = 2 + sum(paragraphs)
    doc = LoadedDocument("t.md", "markdown", None, tuple(blocks))
    chunks = chunk_document(doc, tok, max_tokens, overlap)
    assert {b.line_start for b in blocks} <= _covered_lines(chunks)
    for c in chunks:
        assert len(tok.offsets([c.text])[0]) + tok.specials <= max_tokens
        held = [b for b in blocks if c.line_start <= b.line_start <= c.line_end]
        paths = list(dict.fromkeys(b.heading for b in held))
        if len(paths) == 1:
            assert c.heading == " > ".join(paths[0])
            continue
        assert sum(size[p] >= TINY_SECTION_TOKENS for p in paths) <= 1
        with_text = {b.heading for b in held if not b.is_heading}
        named = [
            p
            for p in paths
            if p in with_text or not any(q[: len(p)] == p and len(q) > len(p) for q in paths)
        ]
        assert c.heading == HEADING_SEPARATOR.join(" > ".join(p) for p in named)


def test_pdf_chunks_never_span_pages():
    tok = FakeTokenizer()
    blocks = tuple(Block(f"page {p} text " * 3, page=p) for p in (1, 1, 2, 3))
    chunks = chunk_document(LoadedDocument("x.pdf", "pdf", None, blocks), tok, 200, 10)
    assert [c.page for c in chunks] == [1, 2, 3]


@pytest.mark.models  # the bundled embedder's tokenizer
def test_a_single_huge_word_is_cut_into_windows(minilm_tokenizer):
    doc = LoadedDocument("x.txt", "text", None, (Block("x" * 5000, 1, 1),))
    chunks = chunk_document(doc, minilm_tokenizer, max_tokens=64, overlap=8)
    assert all(len(minilm_tokenizer.offsets([c.text])[0]) + 2 <= 64 for c in chunks)
    assert "".join(c.text for c in chunks).count("x") >= 5000


_words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_paragraph = (
    st.lists(_words, min_size=1, max_size=12).map(" ".join).map(str.strip)
)  # as loaders give


@settings(max_examples=150, deadline=None)
@given(
    paragraphs=st.lists(st.tuples(_paragraph, st.booleans()), min_size=1, max_size=25),
    max_tokens=st.integers(12, 80),
    overlap=st.integers(0, 16),
)
def test_property_limits_and_line_coverage(paragraphs, max_tokens, overlap):
    tok = FakeTokenizer()
    blocks, line = [], 1
    for text, is_heading in paragraphs:
        n = text.count("\n")
        blocks.append(
            Block(
                text,
                line,
                line + n,
                heading=(text[:10],) if is_heading else (),
                is_heading=is_heading,
            )
        )
        line += n + 2
    doc = LoadedDocument("p.txt", "text", None, tuple(blocks))
    chunks = chunk_document(doc, tok, max_tokens, overlap)
    for c in chunks:
        assert len(tok.offsets([c.text])[0]) + tok.specials <= max_tokens
        assert c.text.strip()
    wanted = {b.line_start for b in blocks if tok.offsets([b.text])[0]}
    assert wanted <= _covered_lines(chunks)


@pytest.mark.models  # the bundled embedder's tokenizer
def test_a_block_longer_than_a_segment_is_cut_at_whitespace_and_keeps_every_word(
    minilm_tokenizer,
):
    """A text with no line break (a 50 MB log line, say) is cut into segments before it is
    tokenized; every character still lands in a chunk, in order, and no chunk exceeds the
    window (token windows may cut inside a word, as they do in any over-long sentence)."""
    from docqa.ingest.chunker import SEGMENT_CHARS

    words = [f"w{i}" for i in range(3 * SEGMENT_CHARS // 5)]
    line = " ".join(words)
    assert len(line) > 2 * SEGMENT_CHARS
    doc = LoadedDocument(path="/l.txt", format="text", title=None, blocks=(Block(line, 7, 7),))
    chunks = chunk_document(doc, minilm_tokenizer, max_tokens=256, overlap=0)
    assert all(c.n_tokens + minilm_tokenizer.specials <= 256 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "") == "".join(words)
    assert {(c.line_start, c.line_end) for c in chunks} == {(7, 7)}


@pytest.mark.models  # the bundled embedder's tokenizer
def test_line_numbers_inside_a_long_multi_line_block(minilm_tokenizer):
    lines = [f"line {i} says something about topic {i % 7}." for i in range(4000)]
    block = Block("\n".join(lines), 10, 10 + len(lines) - 1)
    doc = LoadedDocument(path="/m.txt", format="text", title=None, blocks=(block,))
    chunks = chunk_document(doc, minilm_tokenizer, max_tokens=256, overlap=0)
    for c in chunks:
        first = int(c.text.split()[1])
        last = int(c.text.split("\n")[-1].split()[1])
        assert (c.line_start, c.line_end) == (10 + first, 10 + last)


def test_tokenizing_in_batches_gives_the_same_chunks(monkeypatch):
    """Big documents are tokenized TOKENIZE_BATCH texts at a time (bounded memory); the
    chunks are the same as tokenizing everything at once."""
    from docqa.ingest import chunker

    tok = FakeTokenizer()
    blocks = tuple(
        Block(f"Paragraph {i}. " + "word " * (5 + i % 40), 2 * i + 1, 2 * i + 1) for i in range(300)
    )
    doc = LoadedDocument("b.txt", "text", None, blocks)
    whole = chunk_document(doc, tok, 32, 4)
    monkeypatch.setattr(chunker, "TOKENIZE_BATCH", 7)
    assert chunk_document(doc, tok, 32, 4) == whole and len(whole) > 2 * 7
