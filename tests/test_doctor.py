"""`docqa doctor`: each kind of damage is named and exits 1; `--repair` rebuilds what is
derived and never deletes what the user made."""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from tests.cli import invoke


def doctor(*args):
    result = invoke("doctor", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def problems(report: dict) -> dict[str, list[str]]:
    return {c["name"]: c["problems"] for c in report["checks"] if c["problems"]}


def test_a_healthy_store_passes_every_check(ingested):
    code, report = doctor()
    assert code == 0 and report["ok"] is True
    names = [c["name"] for c in report["checks"]]
    assert names == [
        "schema",
        "sqlite",
        "orphans",
        "embedder",
        "index",
        "files",
        "cache",
        "interactions",
        "model runtime",
    ]


def test_index_entries_with_no_chunk_are_found_and_rebuilt_away(ingested, docqa_home):
    from docqa.adapters.hnsw import HnswIndex
    from docqa.store import Store

    store = Store.open(docqa_home / "docqa.db")
    fingerprint, dim = store.corpus.fingerprint(), store.corpus.embedder().dimension
    ids = {r[0] for r in store.conn.execute("SELECT id FROM chunks")}
    store.close()
    index = HnswIndex(docqa_home / "index.hnsw", dim)
    index.open(fingerprint, lambda: iter(()))
    assert not index.rebuilt
    index.add([10_000], np.ones((1, dim), dtype=np.float32))  # a label no chunk has
    index.remove([min(ids)])  # and a chunk the index lost
    index.save(fingerprint)
    code, report = doctor()
    assert code == 1
    assert problems(report) == {
        "index": [
            "index and store disagree: 1 chunks not in the index, 1 index entries with no chunk"
        ]
    }
    code, report = doctor("--repair")
    assert code == 0
    index_check = next(c for c in report["checks"] if c["name"] == "index")
    assert index_check["repaired"] == [f"rebuilt the index from SQLite ({len(ids)} chunks)"]
    again = HnswIndex(docqa_home / "index.hnsw", dim)
    again.open(fingerprint, lambda: iter(()))
    assert again.live_ids() == ids


def test_files_gone_are_named_and_kept(ingested, docqa_home):
    gone = ingested / "eiffel_tower.txt"
    gone.unlink()
    code, report = doctor("--repair")
    assert code == 1
    assert problems(report) == {
        "files": [f"{gone} is gone (`docqa ingest --prune` or `docqa docs rm` removes it)"]
    }
    listed = json.loads(invoke("docs", "list", "--json").stdout)
    assert str(gone) in {d["path"] for d in listed["documents"]}  # repair deletes nothing


def test_orphans_broken_cache_files_and_leftovers_are_repaired(ingested, docqa_home):
    conn = sqlite3.connect(docqa_home / "docqa.db")  # foreign keys off, as a crash might leave
    with conn:
        conn.execute(
            "INSERT INTO chunks (document_id, seq, text, n_tokens, embedding) "
            "VALUES (9999, 0, 'orphan', 1, zeroblob(1536))"
        )
        conn.execute("UPDATE documents SET n_chunks = n_chunks + 5 WHERE id = 1")
    conn.close()
    cache = docqa_home / "cache"
    cache.mkdir(exist_ok=True)
    (cache / ("0" * 40 + ".kv")).write_bytes(b"DOCQAKV1 broken")
    (docqa_home / "index.hnsw.4242.tmp").write_bytes(b"half written")
    code, report = doctor()
    assert code == 1
    found = problems(report)
    assert found["orphans"] == [
        "1 chunks belong to no document",
        "1 documents have a wrong chunk count",
    ]
    assert found["cache"] == [
        "1 temporary files left by interrupted runs: index.hnsw.4242.tmp",
        "1 KV cache files fail their checksum",
    ]
    assert "index" in found  # the orphan chunk changed the store's fingerprint
    code, report = doctor("--repair")
    assert code == 0, report
    assert not (docqa_home / "index.hnsw.4242.tmp").exists()
    code, report = doctor()
    assert code == 0 and report["ok"] is True


def test_index_files_of_earlier_states_are_found_and_removed(ingested, docqa_home):
    """A process killed between saving an index and removing the previous one leaves a
    data file no manifest names."""
    stale = docqa_home / "index.hnsw.0123456789ab"
    stale.write_bytes(b"an index of an earlier state")
    code, report = doctor()
    assert code == 1 and problems(report) == {"index": ["1 index files of earlier states are left"]}
    code, report = doctor("--repair")
    assert code == 0 and not stale.exists()
    assert invoke("search", "Eiffel Tower", "--json").exit_code == 0


def test_repair_waits_for_the_write_lock(ingested, docqa_home):
    from docqa.lock import write_lock

    with write_lock(docqa_home):
        result = invoke("doctor", "--repair", "--wait", "0")
        assert result.exit_code == 1 and "is busy" in result.stderr
        assert invoke("doctor").exit_code == 0  # checking alone never waits
