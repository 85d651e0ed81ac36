"""Cut a loaded document into chunks that fit the embedder's window, measured by its tokenizer.

Chunks follow the document's structure, and a chunk's `heading` names the section(s) its text
is in: a citation must say where its words are, and a vector (made with the heading in front,
docqa.ingest.passages) is sharpest when the text is about the heading it is filed under.

So a chunk holds one section (a heading and the blocks under it), and a section too long for
one chunk is packed paragraph by paragraph, a paragraph too long by sentences, a sentence too
long by token windows; consecutive chunks of one section overlap by `overlap` tokens, chunks of
different sections never do. Small sections get chunks of their own too: a 60-token section is
a good passage, and filed under its own heading it is found by questions about that heading.

The exception is a tiny section (under TINY_SECTION_TOKENS: a heading with a line under it,
or nothing at all), which alone would be a weak passage and a wasted hit. It joins the section
before it, unless it leads into its own subsections ("# Part II" straight before
"## Chapter 1"): then it starts the chunk they join. A chunk holds at most one section that is
not tiny (sections of one same heading path aside, which pack as one), and names every section
it holds (MAX_HEADINGS at most), each by its full path, joined by HEADING_SEPARATOR:
"Guide > Usage · Guide > License". Full paths, though longer than "Guide > Usage · License",
can be read only one way whatever the sections' depths. A section holding only its heading
line, followed in the chunk by its subsections, is named by their paths
("Part II > Chapter 1"); text before the first heading has no heading to name. This module once
labelled a packed chunk by its first section alone, and cited "Atmosphere and climate" for a
paragraph about the moons of Mars.

PDF chunks never span pages (nor slides or notebook cells, loaded as pages), so the page of a
citation is exact; line ranges are exact too.

Tables (CSV, TSV, XLSX: docqa.ingest.tables) are chunked by rows instead: each chunk holds
whole rows under the table's header row, repeated at the top of every chunk, since rows
without their column names mean little to a reader or to the embedder. Rows do not overlap;
a chunk's line range is that of its rows.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from docqa.ingest.tables import TABLE_FORMATS
from docqa.records import Block, Chunk, LoadedDocument

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")

# A section of fewer tokens than this (its heading line included) shares a chunk with its
# neighbours rather than making a chunk of its own.
TINY_SECTION_TOKENS = 32
# The most sections one chunk may name: a run of tiny sections (a glossary of one-liners)
# is cut into chunks of this many, so labels stay short enough to read and to embed.
MAX_HEADINGS = 4
# How a chunk spanning sections names them: "A > B · A > C" is B and C, both under A.
HEADING_SEPARATOR = " · "


class Tokenizer(Protocol):
    """The embedder's tokenizer, as far as chunking needs it."""

    specials: int  # tokens the model adds around every text ([CLS], [SEP], ...)

    def offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character spans of each text's tokens (special tokens excluded)."""
        ...


@dataclass(frozen=True)
class _Piece:
    text: str
    tokens: int
    line_start: int | None
    line_end: int | None
    page: int | None
    heading: tuple[str, ...]
    section: int  # pieces of one section share this number
    body: bool = True  # False: a heading line


@dataclass
class _Section:
    pieces: list[_Piece]
    tokens: int
    heading: tuple[str, ...]
    page: int | None


def chunk_document(
    doc: LoadedDocument, tokenizer: Tokenizer, max_tokens: int = 256, overlap: int = 32
) -> list[Chunk]:
    """Chunks of `doc`, each at most `max_tokens` tokens including the tokenizer's specials."""
    budget = max_tokens - tokenizer.specials
    if budget < 8:
        raise ValueError(f"max_tokens={max_tokens} leaves no room for text")
    overlap = max(0, min(overlap, budget // 2))
    if doc.format in TABLE_FORMATS:
        return _table_chunks(doc.blocks, tokenizer, budget)
    pieces = _pieces(doc.blocks, tokenizer, budget)
    chunks = _finish(_pack(pieces, tokenizer, budget, overlap), tokenizer, budget)
    if doc.source is not None:
        lines = doc.source.split("\n")
        chunks = [
            dataclasses.replace(c, source="\n".join(lines[c.line_start - 1 : c.line_end]))
            if c.line_start is not None and c.line_end is not None
            else c
            for c in chunks
        ]
    return chunks


# A block longer than this many characters (a 50 MB file with no line break, say) is cut at
# whitespace into segments of about this size before it is tokenized, so the memory and time
# chunking takes stay proportional to the text, never to its longest line.
SEGMENT_CHARS = 50_000


# Texts are tokenized this many at a time: token offsets are Python tuples, so tokenizing a
# whole big document's pieces at once held gigabytes (a 50 MB file: 40,000 chunks).
TOKENIZE_BATCH = 512


def _token_counts(texts: Sequence[str], tokenizer: Tokenizer) -> Iterator[int]:
    for i in range(0, len(texts), TOKENIZE_BATCH):
        yield from (len(o) for o in tokenizer.offsets(texts[i : i + TOKENIZE_BATCH]))


def _pieces(blocks: Sequence[Block], tokenizer: Tokenizer, budget: int) -> list[_Piece]:
    """Blocks as pieces no bigger than the budget, numbered by section."""
    small = [b.text for b in blocks if len(b.text) <= SEGMENT_CHARS]
    counts = _token_counts(small, tokenizer)
    pieces: list[_Piece] = []
    section, last_page = 0, None
    for block in blocks:
        if block.is_heading or (block.page is not None and block.page != last_page):
            section += 1
        last_page = block.page
        lines = _Lines(block)
        if len(block.text) > SEGMENT_CHARS:
            for offset, segment in _segments(block.text):
                for start, text, n in _split(segment, tokenizer, budget):
                    pieces.append(lines.piece(text, offset + start, n, section))
            continue
        count = next(counts)
        if count == 0:
            continue
        if count <= budget:
            pieces.append(lines.piece(block.text, 0, count, section))
            continue
        for start, text, n in _split(block.text, tokenizer, budget):
            pieces.append(lines.piece(text, start, n, section))
    return pieces


def _segments(text: str, size: int = SEGMENT_CHARS):
    """(offset, segment) cuts of a long text, each at most `size` characters, ending at a line
    break or else a space where there is one."""
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind("\n", start, end)  # a line break, else a space
            if cut <= start:
                cut = text.rfind(" ", start, end)
            if cut > start:
                end = cut + 1
        yield start, text[start:end]
        start = end


def _split(text: str, tokenizer: Tokenizer, budget: int) -> list[tuple[int, str, int]]:
    """(offset, text, tokens) parts of an over-long text: by sentences, then token windows."""
    bounds = [0] + [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    sentences = [
        (a, text[a:b]) for a, b in zip(bounds, bounds[1:], strict=False) if text[a:b].strip()
    ]
    counts = [len(o) for o in tokenizer.offsets([s for _, s in sentences])]
    parts: list[tuple[int, str, int]] = []
    cur_start, cur_end, cur_n = None, 0, 0
    for (start, sentence), n in zip(sentences, counts, strict=True):
        if n > budget:
            if cur_start is not None:
                parts.append((cur_start, text[cur_start:cur_end], cur_n))
                cur_start, cur_n = None, 0
            spans = tokenizer.offsets([sentence])[0]
            for i in range(0, len(spans), budget):
                window = spans[i : i + budget]
                a, b = window[0][0], window[-1][1]
                parts.append((start + a, sentence[a:b], len(window)))
            continue
        if cur_start is not None and cur_n + n > budget:
            parts.append((cur_start, text[cur_start:cur_end], cur_n))
            cur_start, cur_n = None, 0
        if cur_start is None:
            cur_start = start
        cur_end, cur_n = start + len(sentence), cur_n + n
    if cur_start is not None:
        parts.append((cur_start, text[cur_start:cur_end], cur_n))
    return [(a, t.strip(), n) for a, t, n in parts if t.strip()]


class _Lines:
    """Line numbers of a block's pieces, from a table of where its line breaks are (worked
    out once per block: counting from the start for every piece is quadratic)."""

    def __init__(self, block: Block):
        self.block = block
        self.flat = "\n" not in block.text
        self._breaks: list[int] | None = None

    def piece(self, text: str, offset: int, tokens: int, section: int) -> _Piece:
        block = self.block
        line_start = line_end = None
        if block.line_start is not None and self.flat:
            # flattened text (HTML paragraphs): its lines are the block's, not countable inside
            line_start, line_end = block.line_start, block.line_end
        elif block.line_start is not None:
            if self._breaks is None:
                self._breaks = [m.start() for m in re.finditer("\n", block.text)]
            line_start = block.line_start + bisect.bisect_left(self._breaks, offset)
            line_end = min(
                line_start + text.count("\n"),
                block.line_end if block.line_end is not None else line_start + text.count("\n"),
            )
        return _Piece(
            text,
            tokens,
            line_start,
            line_end,
            block.page,
            block.heading,
            section,
            body=not block.is_heading,
        )


def _sections(pieces: list[_Piece]) -> list[_Section]:
    sections: list[_Section] = []
    for p in pieces:
        if sections and sections[-1].pieces[0].section == p.section:
            sections[-1].pieces.append(p)
            sections[-1].tokens += p.tokens
        else:
            sections.append(_Section([p], p.tokens, p.heading, p.page))
    return sections


def _opening(section: _Section) -> int:
    """Tokens of a section's heading line(s) and first paragraph."""
    n = 0
    for p in section.pieces:
        n += p.tokens
        if p.body:
            break
    return n


def _under(path: tuple[str, ...], ancestor: tuple[str, ...]) -> bool:
    """Whether `path` is a proper subsection of `ancestor`."""
    return len(path) > len(ancestor) and path[: len(ancestor)] == ancestor


def _names(pieces: Sequence[_Piece]) -> list[tuple[str, ...]]:
    """The heading paths a chunk of these pieces names, in order: each section's, except an
    empty one (text before the first heading) and that of a section whose only text here is
    its heading line when a subsection of it follows (the subsection's path names it)."""
    body: dict[tuple[str, ...], bool] = {}
    for p in pieces:
        body[p.heading] = body.get(p.heading, False) or p.body
    return [
        path
        for path, has_body in body.items()
        if path and (has_body or not any(_under(other, path) for other in body))
    ]


def _label(pieces: Sequence[_Piece]) -> str:
    """The chunk's `heading`: the heading path of each section it names, in full, joined by
    HEADING_SEPARATOR ("A > B · A > C")."""
    return HEADING_SEPARATOR.join(" > ".join(path) for path in _names(pieces))


def _pack(
    pieces: list[_Piece], tokenizer: Tokenizer, budget: int, overlap: int
) -> list[list[_Piece]]:
    sections = _sections(pieces)
    chunks: list[list[_Piece]] = []
    current: list[_Piece] = []
    used = 0
    whole = True  # current holds whole sections (none of them cut across chunks)
    for i, section in enumerate(sections):
        following = sections[i + 1] if i + 1 < len(sections) else None
        same_page = not current or current[-1].page == section.page
        few = len(_names([*current, *section.pieces])) <= MAX_HEADINGS
        if current and same_page and few and section.tokens <= budget - used:
            if section.heading == current[-1].heading:
                joins = True  # the label stays the same
            elif whole and used < TINY_SECTION_TOKENS:
                joins = True  # what came before is a tiny lead-in
            else:
                leads_in = (
                    following is not None
                    and following.page == section.page
                    and _under(following.heading, section.heading)
                )
                joins = section.tokens < TINY_SECTION_TOKENS and not leads_in
            if joins:
                current.extend(section.pieces)
                used += section.tokens
                continue
        # a tiny lead-in stays in front of a section too long to join it whole, if the
        # section's heading and first paragraph fit after it
        lead_in = (
            whole
            and used < TINY_SECTION_TOKENS
            and same_page
            and few
            and used + _opening(section) <= budget
        )
        if current and not lead_in:
            chunks.append(current)
            current, used = [], 0
        whole = True
        for p in section.pieces:
            if current and used + p.tokens > budget:
                chunks.append(current)
                whole = False
                last = current[-1]
                tail = (
                    _tail(last, tokenizer, min(overlap, budget - p.tokens))
                    if last.section == p.section
                    else None
                )
                current = [tail] if tail else []
                used = tail.tokens if tail else 0
            current.append(p)
            used += p.tokens
    if current:
        chunks.append(current)
    return chunks


def _tail(piece: _Piece, tokenizer: Tokenizer, n: int) -> _Piece | None:
    """The last n tokens of a piece, starting on a token boundary, for overlap."""
    if n <= 0:
        return None
    spans = tokenizer.offsets([piece.text])[0]
    if len(spans) <= n:
        return piece
    # start the tail on a whitespace boundary so it does not begin mid-word
    i = len(spans) - n
    while i < len(spans) and i > 0 and spans[i][0] == spans[i - 1][1]:
        i += 1
    if i >= len(spans):
        return None
    start = spans[i][0]
    text = piece.text[start:]
    line_start = (
        None if piece.line_start is None else piece.line_start + piece.text.count("\n", 0, start)
    )
    return _Piece(
        text,
        len(spans) - i,
        line_start,
        piece.line_end,
        piece.page,
        piece.heading,
        piece.section,
        piece.body,
    )


def _measured(groups: list[list[_Piece]], tokenizer: Tokenizer):
    """(group, joined text, token offsets), tokenized a batch at a time."""
    for i in range(0, len(groups), TOKENIZE_BATCH):
        batch = groups[i : i + TOKENIZE_BATCH]
        texts = ["\n\n".join(p.text for p in g) for g in batch]
        yield from zip(batch, texts, tokenizer.offsets(texts), strict=True)


def _finish(groups: list[list[_Piece]], tokenizer: Tokenizer, budget: int) -> list[Chunk]:
    """Join each group's pieces and measure the real token count (tokenizers are not always
    additive across joins); the rare group over budget is cut into token windows."""
    chunks: list[Chunk] = []
    for group, text, spans in _measured(groups, tokenizer):
        starts = [p.line_start for p in group if p.line_start is not None]
        ends = [p.line_end for p in group if p.line_end is not None]
        common = dict(
            line_start=min(starts) if starts else None,
            line_end=max(ends) if ends else None,
            page=group[0].page,
            heading=_label(group),
        )
        if len(spans) <= budget:
            chunks.append(Chunk(seq=len(chunks), text=text, n_tokens=len(spans), **common))
            continue
        for i in range(0, len(spans), budget):
            window = spans[i : i + budget]
            part = text[window[0][0] : window[-1][1]]
            chunks.append(Chunk(seq=len(chunks), text=part, n_tokens=len(window), **common))
    return chunks


# -- tables ---------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Rows of one table that go into one chunk, under the table's header."""

    header: Block | None  # the table's header row (None: rows before any header)
    label: str  # the header, cut to fit
    rows: list[Block]
    parts: list[str]  # the rows' texts (or parts of a row too long for one chunk)


def _table_chunks(blocks: Sequence[Block], tokenizer: Tokenizer, budget: int) -> list[Chunk]:
    """Whole rows packed under their table's header: a header block (`is_heading`) starts
    a table, the rows after it are its rows. A header takes at most half the budget (a wider
    one is cut); a row too long for the room left is cut by sentences and token windows,
    each part under the header."""
    counts = list(_token_counts([b.text[:SEGMENT_CHARS] for b in blocks], tokenizer))
    groups: list[_Rows] = []
    header: Block | None = None
    label, room, used = "", budget, 0
    current: _Rows | None = None
    for block, n in zip(blocks, counts, strict=True):
        if len(block.text) > SEGMENT_CHARS:
            n = budget + 1  # cut below, part by part
        if block.is_heading:
            header = block
            label, n = _cap(block.text, n, tokenizer, budget // 2)
            room, used = budget - n, 0
            current = _Rows(header, label, [], [])
            groups.append(current)
            continue
        if n > room:
            for _, part, _ in _split(block.text, tokenizer, room):
                groups.append(_Rows(header, label, [block], [part]))
            current = None
            continue
        if current is None or used + n > room:
            current = _Rows(header, label, [], [])
            groups.append(current)
            used = 0
        current.rows.append(block)
        current.parts.append(block.text)
        used += n
    # a header keeps a chunk of its own only when its table has no rows
    with_rows = {id(g.header) for g in groups if g.rows}
    kept = [g for g in groups if g.rows or id(g.header) not in with_rows]
    chunks = _measure_tables(kept, tokenizer, budget)
    return [dataclasses.replace(c, seq=i) for i, c in enumerate(chunks)]


def _cap(text: str, n: int, tokenizer: Tokenizer, most: int) -> tuple[str, int]:
    """A header of at most `most` tokens (cut at a token boundary)."""
    if n <= most:
        return text, n
    spans = tokenizer.offsets([text[:SEGMENT_CHARS]])[0]
    return text[: spans[most - 1][1]] + " …", most + 1


def _measure_tables(groups: list[_Rows], tokenizer: Tokenizer, budget: int) -> list[Chunk]:
    """Chunks of the groups, in order, measured as joined (tokenizers are not always
    additive): a group over the budget is halved, one row over it is cut into token windows."""
    chunks: list[Chunk] = []
    for i in range(0, len(groups), TOKENIZE_BATCH):
        batch = groups[i : i + TOKENIZE_BATCH]
        texts = ["\n".join(p for p in (g.label, *g.parts) if p) for g in batch]
        for group, text, spans in zip(batch, texts, tokenizer.offsets(texts), strict=True):
            if len(spans) > budget and len(group.parts) > 1:
                half = len(group.parts) // 2
                halves = [
                    _Rows(group.header, group.label, group.rows[:half], group.parts[:half]),
                    _Rows(group.header, group.label, group.rows[half:], group.parts[half:]),
                ]
                chunks += _measure_tables(halves, tokenizer, budget)
                continue
            where = group.rows or ([group.header] if group.header else [])
            common = dict(
                line_start=min((r.line_start for r in where if r.line_start), default=None),
                line_end=max((r.line_end for r in where if r.line_end), default=None),
                heading=" > ".join(group.header.heading) if group.header else "",
            )
            if len(spans) <= budget:
                chunks.append(Chunk(seq=0, text=text, n_tokens=len(spans), **common))
                continue
            for j in range(0, len(spans), budget):
                window = spans[j : j + budget]
                part = text[window[0][0] : window[-1][1]]
                chunks.append(Chunk(seq=0, text=part, n_tokens=len(window), **common))
    return chunks
