"""`docqa doctor`: is the store consistent, and can what is derived be rebuilt?

SQLite holds everything that cannot be made again (documents, chunks, their embeddings, users,
the answer history). The hnswlib index, the full-text index, the KV cache, the ONNX export and
the groundedness pools are derived from it and from the models. Each check names its
problems; with `repair`, what is derived is rebuilt, broken cache files are removed, and
answers whose process died are marked interrupted.
Nothing the user made is ever deleted: a file that is gone from disk is reported, and left
to `docqa ingest --prune` or `docqa docs rm`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from docqa.store import EmbedderIdentity, Store

_TMP = re.compile(r"\.\d+\.tmp(\.npz)?$|\.tmp\d+\.npz$")


@dataclass
class Check:
    name: str
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def diagnose(
    store: Store,
    *,
    home: Path,
    cache_dir: Path,
    index,
    embedder: EmbedderIdentity | None,
    repair: bool = False,
    reexport=None,
) -> list[Check]:
    """Run every check; with `repair`, rebuild what is derived (the caller holds the write
    lock). `index` is an unopened HnswIndex for the store; `embedder` the configured one
    (None: not loadable); `reexport` makes the ONNX export again (or None)."""
    checks = [
        _schema(store),
        _sqlite(store, repair),
        _orphans(store, repair),
        _embedder(store, embedder),
        _index(store, index, repair),
        _files(store),
        _cache(home, cache_dir, repair),
        _interactions(store, repair),
    ]
    if reexport is not None:
        checks.append(_query_embedder(reexport, repair))
    return checks


def _schema(store: Store) -> Check:
    check = Check("schema")
    missing, unknown = store.schema()
    if missing:
        check.problems.append(f"migrations not applied: {', '.join(missing)}")
    if unknown:
        check.problems.append(
            f"made by a newer docqa (migrations {', '.join(unknown)}): upgrade docqa"
        )
    return check


def _sqlite(store: Store, repair: bool) -> Check:
    check = Check("sqlite")
    check.problems += [f"integrity: {p}" for p in store.integrity_problems()[:5]]
    problem = store.corpus.full_text_problem()
    if problem is not None:
        if repair:
            store.corpus.rebuild_full_text()
            check.repaired.append("rebuilt the full-text index from the chunks")
        else:
            check.problems.append(f"full-text index out of step with the chunks: {problem}")
    return check


def _orphans(store: Store, repair: bool) -> Check:
    check = Check("orphans")
    check.problems = [f"{n} {what}" for n, what in store.corpus.orphans() if n]
    if repair and check.problems:
        store.corpus.repair_orphans()
        check.repaired, check.problems = [f"fixed: {p}" for p in check.problems], []
    return check


def _embedder(store: Store, configured: EmbedderIdentity | None) -> Check:
    check = Check("embedder")
    recorded = store.corpus.embedder()
    if recorded is None:
        return check
    if configured is not None and configured != recorded:
        check.problems.append(
            f"the store was built with {recorded}, the configured embedder is {configured}: "
            "use the same --embedder, or ingest into a new --home"
        )
    bad = store.corpus.misshapen_embeddings(recorded.dimension)
    if bad:
        check.problems.append(
            f"{bad} chunks have an embedding that is not {recorded.dimension}-d: re-ingest them"
        )
    return check


def _index(store: Store, index, repair: bool) -> Check:
    """The vector index must hold exactly the store's chunk ids, under a matching fingerprint."""
    check = Check("index")
    recorded = store.corpus.embedder()
    if recorded is None:
        return check
    with store.snapshot():
        fingerprint = store.corpus.fingerprint()
        ids = store.corpus.chunk_ids()
    problems = []
    manifest = index.manifest()
    if manifest is None:
        problems.append(f"{index.meta_path} is missing or unreadable")
    elif not index.saved_file(manifest).exists():
        problems.append(f"the index file {index.meta_path} names is missing")
    elif not index.load_saved(fingerprint):
        problems.append(f"{index.path} does not match the store (stale, from another state)")
    else:
        live = index.live_ids()
        if live != ids:
            problems.append(
                f"index and store disagree: {len(ids - live)} chunks not in the index, "
                f"{len(live - ids)} index entries with no chunk"
            )
        old = [p for p in index.data_files() if p != index.loaded_from]
        if old:
            problems.append(f"{len(old)} index files of earlier states are left")
            if repair:
                for path in old:
                    path.unlink(missing_ok=True)
                check.repaired.append(f"removed {len(old)} old index files")
                problems = problems[:-1]
    if problems and repair:
        index.rebuild(fingerprint, lambda: store.corpus.iter_embeddings(recorded.dimension))
        index.save(fingerprint)
        rebuilt = index.live_ids()
        if rebuilt == ids:
            check.repaired.append(f"rebuilt the index from SQLite ({len(ids)} chunks)")
            problems = []
        else:
            problems.append("the rebuilt index still disagrees with the store")
    check.problems = problems
    return check


def _files(store: Store) -> Check:
    check = Check("files")
    for doc in store.corpus.documents():
        try:
            st = os.stat(doc.path)
        except OSError:
            check.problems.append(
                f"{doc.path} is gone (`docqa ingest --prune` or `docqa docs rm` removes it)"
            )
            continue
        if st.st_size != doc.size:
            check.problems.append(f"{doc.path} changed since it was ingested (ingest it again)")
    return check


def _cache(home: Path, cache_dir: Path, repair: bool) -> Check:
    """Left-over temporary files of killed processes, and KV files that fail their own
    checksum (they would be refused and rebuilt on use anyway, but take space)."""
    from docqa.adapters.llama_kvcache import PrefixCache

    check = Check("cache")
    leftovers = [p for p in [*home.glob("*"), *cache_dir.rglob("*")] if _TMP.search(p.name)]
    broken = []
    for path in cache_dir.glob("*.kv") if cache_dir.is_dir() else ():
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if PrefixCache.payload(data) is None:
            broken.append(path)
    if leftovers:
        check.problems.append(
            f"{len(leftovers)} temporary files left by interrupted runs: "
            + ", ".join(p.name for p in leftovers[:5])
        )
    if broken:
        check.problems.append(f"{len(broken)} KV cache files fail their checksum")
    if repair and (leftovers or broken):
        for path in [*leftovers, *broken]:
            path.unlink(missing_ok=True)
        check.repaired.append(f"removed {len(leftovers) + len(broken)} files")
        check.problems = []
    return check


SHOWN_ROWS = 10  # interrupted interactions named one by one; the rest are counted


def _interactions(store: Store, repair: bool) -> Check:
    """Asks left `running` by a process that died (docqa.owner): readers already show them
    as interrupted; `repair` stores that status, with the reason as the error."""
    check = Check("interactions")
    dead = store.journal.interrupted()
    if not dead:
        return check
    check.problems.append(
        f"{len(dead)} interactions were left running by a process that died "
        "(`docqa doctor --repair` marks them interrupted)"
    )
    for row in dead[:SHOWN_ROWS]:
        when = str(row["created_at"])[:19].replace("T", " ")
        check.problems.append(
            f"interaction {row['id']}, asked {when} UTC by {_owner(row)}: "
            f'"{_start(row["question"])}"'
        )
    if len(dead) > SHOWN_ROWS:
        check.problems.append(f"and {len(dead) - SHOWN_ROWS} more")
    if repair:
        marked = store.journal.mark_interrupted({r["id"]: _interrupted_error(r) for r in dead})
        if marked:
            check.repaired.append(
                f"marked {len(marked)} interactions interrupted: {', '.join(map(str, marked))}"
            )
        check.problems = []  # any not marked were finished meanwhile
    return check


def _owner(row: dict) -> str:
    from docqa.owner import current

    if row["owner_pid"] is None:
        return "a docqa from before owners were recorded"
    elsewhere = f" on {row['owner_host']}" if row["owner_host"] != current().host else ""
    return f"pid {row['owner_pid']}{elsewhere}"


def _interrupted_error(row: dict) -> str:
    from docqa.owner import current

    if row["owner_pid"] is None:
        return "interrupted: left running over an hour ago by a docqa that recorded no owner"
    if row["owner_host"] != current().host:
        return f"interrupted: left running over an hour ago by {_owner(row)}"
    return f"interrupted: the process answering it ({_owner(row)}) died before it finished"


def _start(question: str, width: int = 60) -> str:
    line = " ".join(question.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _query_embedder(reexport, repair: bool) -> Check:
    """The ONNX export questions are embedded with: present and verified."""
    check = Check("query embedder")
    state = reexport(False)
    if isinstance(state, str):
        check.problems.append(f"no verified ONNX export ({state}): questions load torch")
        if repair:
            made = reexport(True)
            if not isinstance(made, str):
                check.repaired.append(f"exported again (cosine {made.min_cosine:.6f})")
                check.problems = []
    return check
