"""The progress bar of the commands that take a while (ingest, reindex): on stderr, shown only
on a terminal, gone when the command is done. rich.progress is imported when a bar is made,
so that `docqa --help` and the quick commands never load it."""

from __future__ import annotations

from docqa.cli.common import err


class RichProgress:
    """A transient bar: `label`, the bar, done/total, `counts` (a rich column that may name
    the task's fields, as `{task.fields[chunks]}`), time elapsed and ETA."""

    def __init__(self, label: str, counts: str, console=None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.label = label
        self.progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(counts),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=err if console is None else console,
            transient=True,
        )
        self.task = None

    def start(self, total: int, completed: int = 0, **fields) -> None:
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=total, completed=completed, **fields)

    def update(self, advance: int, **fields) -> None:
        self.progress.update(self.task, advance=advance, **fields)

    def end(self) -> None:
        self.progress.stop()  # rich stops once: a second end (a failed command's) is harmless


class IngestBar(RichProgress):
    """Files and chunks, with rate and ETA (docqa.flows.ingest.IngestProgress)."""

    def __init__(self, console=None) -> None:
        super().__init__(
            "ingest", "files · {task.fields[chunks]} chunks · {task.fields[rate]}", console
        )
        self.chunks = 0

    def begin(self, files: int) -> None:
        self.start(files, chunks=0, rate="")

    def advance(self, files: int = 0, chunks: int = 0) -> None:
        self.chunks += chunks
        elapsed = self.progress.tasks[0].elapsed or 0.0
        rate = f"{self.chunks / elapsed:.0f} chunks/s" if elapsed > 0.5 and self.chunks else ""
        self.update(files, chunks=self.chunks, rate=rate)


class ReindexBar(RichProgress):
    """Chunks embedded, with rate and ETA (docqa.flows.reindex)."""

    def __init__(self, console=None) -> None:
        super().__init__("reindex", "chunks", console)

    def begin(self, total: int, done: int) -> None:
        self.start(total, done)

    def advance(self, chunks: int) -> None:
        self.update(chunks)
