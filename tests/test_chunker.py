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
    if doc.format == "pdf":
        assert {c.page for c in chunks} == {b.page for b in doc.blocks}
    else:
        wanted = {n for b in doc.blocks for n in range(b.line_start, b.line_end + 1)}
        assert wanted <= _covered_lines(chunks)


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


def test_small_sections_share_a_chunk_but_a_section_that_does_not_fit_starts_one():
    tok = FakeTokenizer()
    blocks = (
        Block("# A", 1, 1, heading=("A",), is_heading=True),
        Block("alpha " * 5, 2, 2, heading=("A",)),
        Block("# B", 3, 3, heading=("B",), is_heading=True),
        Block("beta " * 5, 4, 4, heading=("B",)),
        Block("# C", 5, 5, heading=("C",), is_heading=True),
        Block("gamma " * 30, 6, 6, heading=("C",)),
    )
    chunks = chunk_document(LoadedDocument("x.md", "markdown", None, blocks), tok, 40, 0)
    assert [(c.line_start, c.line_end, c.heading) for c in chunks] == [(1, 4, "A"), (5, 6, "C")]


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
