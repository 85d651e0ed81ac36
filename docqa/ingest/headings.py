"""The heading path of structured documents (Word, OpenDocument): a stack of numbered levels."""

from __future__ import annotations


class HeadingPath:
    """Headings seen so far, by level: a heading closes every open one of its level or
    deeper ("Heading 2" after "Heading 3" closes both)."""

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []

    def push(self, level: int, title: str) -> tuple[str, ...]:
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        self._open.append((level, title))
        return self.current

    @property
    def current(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._open)


def table_row(cells) -> str:
    """A table row as one line: its cells' values, white space collapsed, joined by " | ",
    with empty cells at the end dropped (None is an empty cell) and a run of more than three
    empty cells shown as one "…" (a sheet's far-off cell would otherwise make thousands)."""
    texts: list[str] = []
    empty = 0
    for cell in cells:
        text = "" if cell is None else " ".join(str(cell).split())
        if text:
            if empty > 3:
                texts.append("…")
            else:
                texts.extend([""] * empty)
            texts.append(text)
            empty = 0
        else:
            empty += 1
    return " | ".join(texts)
