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
# none of these words is in the questions: new documents do not compete for their sources
WORDS = (
    "river mountain harbour engine ledger orchard lantern signal copper meadow archive "
    "compass furnace glacier quarry bridge market canal beacon garden valley theatre"
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


def first_retrieval(home, iid: int) -> tuple[list[int], list[str]]:
    """The chunk ids and paths an ask's first retrieval found, from its recorded trace."""
    from docqa.contract import trace_json
    from docqa.flows.trace import trace
    from docqa.records import Profile
    from docqa.store import Store

    store = Store.open(home / "docqa.db")
    try:
        steps = trace_json(trace(store, iid, viewer=Profile(None), everyone=True))["steps"]
    finally:
        store.close()
    hits = next(s for s in steps if s["stage"] == "retrieve")["data"]["hits"]
    return [h["chunk_id"] for h in hits], [h["path"] for h in hits]


def test_questions_are_answered_during_an_ingest_and_nothing_is_lost(tmp_path):
    """Sound under load: nothing here depends on how fast the machine is. Every command
    started while the ingest ran must succeed and find what was there before; an ask whose
    sources are the ones the same question got before the ingest must give the same first
    answer (greedy decoding of the same prompt); counts only need the ingest to be slower
    than one search."""
    home, docs, more = tmp_path / "home", tmp_path / "docs", tmp_path / "more"
    shutil.copytree(SAMPLE_DOCS, docs)
    first = docqa(home, "ingest", docs, "--json")
    assert first.returncode == 0, first.stderr
    question = "Who designed the Eiffel Tower?"
    before = docqa(home, "ask", question, "--json")
    assert before.returncode == 0, before.stderr
    reference = json.loads(before.stdout)
    reference_ids, reference_paths = first_retrieval(home, reference["id"])
    assert reference_paths[0].endswith("eiffel_tower.txt")
    write_corpus(more, N_NEW, random.Random(3))

    ingest = subprocess.Popen(
        [sys.executable, "-m", "docqa", "ingest", str(more), "--json", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = time.monotonic()
    finished: dict = {}

    def watch():  # the ingest's output, and when it ended
        finished["out"], finished["err"] = ingest.communicate()
        finished["at"] = time.monotonic()

    watcher = threading.Thread(target=watch)
    watcher.start()
    from docqa.lock import try_write_lock

    held = False
    while not held and ingest.poll() is None and time.monotonic() - started < 600:
        with try_write_lock(home) as free:
            held = not free
        if not held:
            time.sleep(0.1)
    assert held, "the ingest ended (or took 10 minutes) before it was seen holding the lock"
    busy = docqa(home, "ingest", docs, "--wait", "0")
    searches, asks = [], []

    def keep_asking(results, *args):
        """Run one command after another while the ingest runs, timing each."""
        while "at" not in finished:
            begun = time.monotonic()
            done = docqa(home, *args, "--json")
            results.append((begun, time.monotonic(), done))

    threads = [
        threading.Thread(
            target=keep_asking, args=(searches, "search", "When was the Eiffel Tower inaugurated?")
        ),
        threading.Thread(target=keep_asking, args=(asks, "ask", question)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads + [watcher]:
        thread.join()
    assert ingest.returncode == 0, finished["err"]
    assert json.loads(finished["out"])["added"] == N_NEW
    ended = finished["at"]

    assert busy.returncode == 1 and "is busy" in busy.stderr, (busy.returncode, busy.stderr)
    served_during = [r for r in searches if r[1] < ended]
    assert served_during, "no search finished while the ingest ran: readers waited for it"
    for _, _, result in searches:
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["hits"][0]["path"].endswith("eiffel_tower.txt")
    assert asks
    same_sources = 0
    for _, _, result in asks:
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert answer["status"] in ("grounded", "partially_grounded", "unanswerable")
        ids, paths = first_retrieval(home, answer["id"])
        assert paths[0].endswith("eiffel_tower.txt"), paths  # nothing there before is lost
        if ids == reference_ids:  # the same sources: the same first answer, word for word
            same_sources += 1
            got, want = answer["attempts"][0], reference["attempts"][0]
            assert (got["answer"], got["citations"]) == (want["answer"], want["citations"])
    searches_s = [end - begun for begun, end, _ in searches]
    asks_s = [end - begun for begun, end, _ in asks]
    print(
        f"\nduring a {ended - started:.0f} s ingest of {N_NEW} documents: {len(searches)} "
        f"searches ({len(served_during)} finished before it) and {len(asks)} asks "
        f"({same_sources} with the reference's sources, answered word for word alike), every "
        f"one exit 0 with the Eiffel Tower document first; median {median(searches_s):.1f} s "
        f"a search, {median(asks_s):.1f} s an ask"
    )

    after = docqa(home, "search", "survey 27 code word", "--json")
    assert "quill27zephyr" in json.loads(after.stdout)["hits"][0]["text"]
    doctor = docqa(home, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    listing = json.loads(docqa(home, "docs", "list", "--json").stdout)["documents"]
    assert len(listing) == 26 + N_NEW
