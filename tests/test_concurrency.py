"""One writer at a time: ingest and docs rm take the store's write lock, a second writer waits
or says the store is busy, readers never wait and never write the index while a writer works,
and a killed writer never leaves the lock behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from docqa.lock import write_lock
from tests.cli import invoke


def test_a_second_writer_says_the_store_is_busy(fakes, docs, docqa_home):
    with write_lock(docqa_home):
        t = time.monotonic()
        result = invoke("ingest", docs, "--wait", "0.3")
        waited = time.monotonic() - t
        assert result.exit_code == 1
        assert "is busy" in result.stderr and "docqa process" in result.stderr
        assert "waiting for" in result.stderr and waited >= 0.3
        now = invoke("docs", "rm", docs, "--wait", "0")
        assert now.exit_code == 1 and "is busy" in now.stderr
    result = invoke("ingest", docs, "--json", "--wait", "0")
    assert result.exit_code == 0 and json.loads(result.stdout)["added"] == 26


def test_readers_answer_during_a_write_and_leave_the_index_file_to_the_writer(ingested, docqa_home):
    meta = docqa_home / "index.hnsw.json"
    meta.unlink()  # the saved index is stale now: readers must rebuild it
    with write_lock(docqa_home):  # as if an ingest were running
        result = invoke("search", "When was the Eiffel Tower inaugurated?", "--json")
        assert result.exit_code == 0
        assert json.loads(result.stdout)["hits"][0]["path"].endswith("eiffel_tower.txt")
        assert not meta.exists()  # rebuilt in memory only
    assert invoke("search", "Eiffel Tower", "--json").exit_code == 0
    assert meta.exists()  # with no writer at work, the reader saved what it rebuilt


def test_a_killed_writer_leaves_no_lock_behind(docqa_home):
    code = (
        "import sys, time\n"
        "from docqa.lock import write_lock\n"
        f"with write_lock({str(docqa_home)!r}):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        from docqa.errors import StoreBusyError

        try:
            with write_lock(docqa_home, wait=0):
                raise AssertionError("the lock should be held")
        except StoreBusyError as exc:
            assert f"docqa process {holder.pid}" in str(exc)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with write_lock(docqa_home, wait=2):
            pass
    finally:
        holder.kill()
