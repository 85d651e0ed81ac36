"""The progress bar shared by ingest and reindex (docqa.cli.progress), driven as the flows
drive it, on a console of its own."""

from __future__ import annotations

import io
import subprocess
import sys

from rich.console import Console

from docqa.cli.progress import IngestBar, ReindexBar


def _shown(bar) -> str:
    """The bar's line as it stands, laid out on a plain console."""
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(bar.progress.get_renderable())
    return console.file.getvalue()


def _quiet() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=200, color_system=None)


def test_the_ingest_bar_counts_files_and_chunks():
    bar = IngestBar(console=_quiet())
    bar.begin(3)
    bar.advance(chunks=5)
    bar.advance(files=1)
    bar.advance(chunks=2)
    bar.advance(files=1)
    line = _shown(bar)
    bar.end()
    bar.end()  # the command ends it again after the flow did
    assert "ingest" in line and "2/3 files · 7 chunks" in line
    assert bar.progress.tasks[0].completed == 2


def test_the_reindex_bar_goes_on_from_the_chunks_already_done():
    bar = ReindexBar(console=_quiet())
    bar.begin(10, 4)
    bar.advance(3)
    line = _shown(bar)
    bar.end()
    assert "reindex" in line and "7/10 chunks" in line
    assert bar.progress.tasks[0].completed == 7


def test_rich_progress_is_imported_only_when_a_bar_is_made():
    code = "import sys, docqa.cli.progress; print('rich.progress' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
