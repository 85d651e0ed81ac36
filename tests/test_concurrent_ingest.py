"""Questions keep being answered while a real ingest runs beside them, in other processes, and
nothing is lost: every answer during the ingest finds the documents that were there before,
a second ingest is told the store is busy, and afterwards the store is whole."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import threading
import time
from statistics import median

import pytest

from tests.cli import run_docqa as docqa
from tests.conftest import SAMPLE_DOCS

pytestmark = pytest.mark.models

N_NEW = 30  # documents ingested while questions are asked (about 450 chunks)
WORDS = (
    "river mountain harbour engine ledger orchard lantern signal copper meadow archive "
    "compass furnace glacier quarry bridge market canal tower garden valley theatre"
).split()


def write_corpus(folder, n_docs: int, rng: random.Random) -> None:
    """Documents of about 2,500 words (about 15 chunks each), each with one unique fact."""
    folder.mkdir()
    for d in range(n_docs):
        paragraphs = [f"# Survey {d}\n\nThe survey {d} code word is quill{d}zephyr."]
        for _ in range(30):
            words = [rng.choice(WORDS) for _ in range(80)]
            paragraphs.append(" ".join(words).capitalize() + ".")
        (folder / f"survey_{d:03}.md").write_text("\n\n".join(paragraphs) + "\n")


def test_questions_are_answered_during_an_ingest_and_nothing_is_lost(tmp_path):
    home, docs, more = tmp_path / "home", tmp_path / "docs", tmp_path / "more"
    shutil.copytree(SAMPLE_DOCS, docs)
    first = docqa(home, "ingest", docs, "--json")
    assert first.returncode == 0, first.stderr
    write_corpus(more, N_NEW, random.Random(3))

    ingest = subprocess.Popen(
        [sys.executable, "-m", "docqa", "ingest", str(more), "--json", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    from docqa.lock import try_write_lock

    for _ in range(600):  # until the ingest holds the write lock
        with try_write_lock(home) as free:
            if not free:
                break
        time.sleep(0.1)
    busy = docqa(home, "ingest", docs, "--wait", "0")
    searches, asks = [], []

    def keep_asking(results, *args):
        """Run one command after another until the ingest ends, timing each."""
        while ingest.poll() is None:
            begun = time.monotonic()
            done = docqa(home, *args, "--json")
            results.append((time.monotonic() - begun, done))

    threads = [
        threading.Thread(
            target=keep_asking, args=(searches, "search", "When was the Eiffel Tower inaugurated?")
        ),
        threading.Thread(target=keep_asking, args=(asks, "ask", "Who designed the Eiffel Tower?")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    during = time.monotonic() - started
    out, err = ingest.communicate()
    assert ingest.returncode == 0, err
    assert json.loads(out)["added"] == N_NEW

    assert busy.returncode == 1 and "is busy" in busy.stderr
    assert len(searches) >= 5, f"only {len(searches)} searches in {during:.0f} s"
    for _, result in searches:
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["hits"][0]["path"].endswith("eiffel_tower.txt")
    assert asks
    for _, result in asks:
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert any(c["path"].endswith("eiffel_tower.txt") for c in answer["citations"])
    print(
        f"\nduring a {during:.0f} s ingest of {N_NEW} documents: {len(searches)} searches and "
        f"{len(asks)} asks served, every one exit 0 with the Eiffel Tower document; median "
        f"{median(t for t, _ in searches):.1f} s a search, "
        f"{median(t for t, _ in asks):.1f} s an ask"
    )

    after = docqa(home, "search", "survey 27 code word", "--json")
    assert "quill27zephyr" in json.loads(after.stdout)["hits"][0]["text"]
    doctor = docqa(home, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    listing = json.loads(docqa(home, "docs", "list", "--json").stdout)["documents"]
    assert len(listing) == 17 + N_NEW
