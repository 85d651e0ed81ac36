"""Killing `docqa ingest` with SIGKILL at random points, then running it again, leaves a store
whose SQLite rows and hnswlib index agree exactly (same chunk ids, no orphans, no duplicates)."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.cli import run_docqa
from tests.conftest import SAMPLE_DOCS

pytestmark = pytest.mark.models


def ingest(docs, home) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "docqa", "ingest", str(docs), "--json", "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_ingest_killed_at_random_points_then_rerun_leaves_sqlite_and_index_in_step(tmp_path):
    docs, home = tmp_path / "docs", tmp_path / "home"
    shutil.copytree(SAMPLE_DOCS, docs)
    rng = random.Random(7)
    kills = 0
    for _ in range(4):
        run = ingest(docs, home)
        time.sleep(rng.uniform(1.0, 14.0))  # model load, embedding, writes, index save
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            kills += 1
        run.wait(timeout=120)
    assert kills >= 3
    done = ingest(docs, home)
    out, err = done.communicate(timeout=600)
    assert done.returncode == 0, err.decode()
    assert json.loads(out)["chunks_total"] > 60

    doctor = run_docqa(home, "doctor", "--json", timeout=300)
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 0 and report["ok"] is True, report

    from docqa.adapters.hnsw import HnswIndex
    from docqa.store import Store

    store = Store.open(home / "docqa.db")
    ids = [r[0] for r in store.conn.execute("SELECT id FROM chunks")]
    paths = [r[0] for r in store.conn.execute("SELECT path FROM documents")]
    index = HnswIndex(home / "index.hnsw", store.corpus.embedder().dimension)
    index.open(store.corpus.fingerprint(), lambda: iter(()))
    assert not index.rebuilt  # the saved index is the one for this state of the store
    assert index.live_ids() == set(ids) and len(ids) == len(set(ids))
    assert sorted(paths) == sorted(str(p) for p in docs.rglob("*") if p.is_file())
    store.close()
