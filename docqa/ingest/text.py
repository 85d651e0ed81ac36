"""Plain-text formats (txt, Markdown, reStructuredText): decoding and paragraph/heading blocks."""

from __future__ import annotations

import re
from collections.abc import Iterator

from docqa.errors import LoaderError
from docqa.records import Block

_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:.<>_])\1{2,}\s*$")
_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def decode_text(data: bytes) -> str:
    """Bytes to text: UTF-8 (or UTF-16/32 with a byte-order mark), else a clear LoaderError."""
    if not data.strip():
        raise LoaderError("empty file" if not data else "file holds only whitespace")
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise LoaderError(
                    f"not valid {codec} text: {exc.reason} at byte {exc.start}"
                ) from None
            break
    else:
        if b"\x00" in data[:8192]:
            raise LoaderError("binary file (contains NUL bytes), not text")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LoaderError(
                f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                "convert it to UTF-8"
            ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise LoaderError("file holds only whitespace")
    return text


def _paragraphs(lines: list[str]) -> Iterator[tuple[int, int]]:
    """(first, last) 0-based line indexes of each run of non-blank lines."""
    start = None
    for i, line in enumerate(lines):
        if line.strip():
            if start is None:
                start = i
        elif start is not None:
            yield start, i - 1
            start = None
    if start is not None:
        yield start, len(lines) - 1


def _is_underline(title: str, line: str) -> bool:
    return (
        bool(title.strip())
        and bool(_UNDERLINE.match(line))
        and len(line.rstrip()) >= len(title.rstrip()) - 2
    )


class _Headings:
    """A heading stack; levels are numbers for Markdown, adornment styles for reST."""

    def __init__(self) -> None:
        self.path: list[tuple[object, str]] = []
        self.styles: list[object] = []  # reST: order of first appearance sets the level

    def push_md(self, level: int, title: str) -> tuple[str, ...]:
        while self.path and int(self.path[-1][0]) >= level:  # type: ignore[call-overload]
            self.path.pop()
        self.path.append((level, title))
        return tuple(t for _, t in self.path)

    def push_styled(self, style: object, title: str) -> tuple[str, ...]:
        if style not in self.styles:
            self.styles.append(style)
        level = self.styles.index(style)
        self.path = [(lvl, t) for lvl, t in self.path if int(lvl) < level]  # type: ignore[call-overload]
        self.path.append((level, title))
        return tuple(t for _, t in self.path)

    @property
    def current(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.path)


def _plain_heading(para: list[str], is_first: bool) -> int | None:
    """Plain-text convention: a lone short line without closing punctuation is a heading
    (level 1 when it opens the document, else 2)."""
    if len(para) != 1:
        return None
    line = para[0].strip()
    if not line or len(line) > 80 or line[-1] in ".,;:!?)" or len(line.split()) > 12:
        return None
    if not any(c.isalpha() for c in line):
        return None
    return 1 if is_first else 2


def text_blocks(text: str, markdown: bool = False, plain: bool = False) -> list[Block]:
    """Split text into paragraph blocks, recognising headings.

    Markdown ATX headings (`# Title`) when markdown is set; underlined titles (reST sections,
    Markdown setext headings, plain-text conventions) always; lone short lines in plain text.
    Blank-line runs inside fenced code blocks do not split the fence.
    """
    lines = text.split("\n")
    headings = _Headings()
    blocks: list[Block] = []
    for first, last in _merge_fences(lines, markdown):
        para = lines[first : last + 1]
        start = first
        # ATX headings inside a paragraph become their own blocks
        if markdown:
            i = 0
            in_fence = False  # a "# comment" inside a code fence is code, not a heading
            while i < len(para):
                if _MD_FENCE.match(para[i]):
                    in_fence = not in_fence
                m = None if in_fence else _MD_HEADING.match(para[i])
                if m:
                    if i > 0:
                        blocks.append(_block(para[:i], start, headings.current))
                    path = headings.push_md(len(m.group(1)), m.group(2) or "")
                    blocks.append(_block([para[i]], start + i, path, is_heading=True))
                    para, start, i = para[i + 1 :], start + i + 1, 0
                    continue
                i += 1
            if not para:
                continue
        # underlined (and optionally overlined) section titles
        if len(para) >= 2 and _is_underline(para[-2], para[-1]) and len(para) <= 3:
            over = len(para) == 3 and _UNDERLINE.match(para[0]) and para[0][0] == para[-1][0]
            if len(para) == 2 or over:
                title = para[-2].strip()
                style = (para[-1][0], bool(over))
                path = headings.push_styled(style, title)
                blocks.append(_block(para, start, path, is_heading=True))
                continue
        level = _plain_heading(para, not blocks) if plain else None
        if level is not None and not (level == 2 and not headings.path and len(blocks) > 1):
            path = headings.push_md(level, para[0].strip())
            blocks.append(_block(para, start, path, is_heading=True))
            continue
        blocks.append(_block(para, start, headings.current))
    return blocks


def _merge_fences(lines: list[str], markdown: bool) -> list[tuple[int, int]]:
    paras = list(_paragraphs(lines))
    if not markdown:
        return paras
    merged: list[tuple[int, int]] = []
    open_fence = False
    for first, last in paras:
        fences = sum(1 for ln in lines[first : last + 1] if _MD_FENCE.match(ln))
        if open_fence and merged:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
        if fences % 2:
            open_fence = not open_fence
    return merged


def _block(
    para: list[str], start: int, heading: tuple[str, ...], is_heading: bool = False
) -> Block:
    return Block(
        text="\n".join(para).strip("\n"),
        line_start=start + 1,
        line_end=start + len(para),
        heading=heading,
        is_heading=is_heading,
    )
