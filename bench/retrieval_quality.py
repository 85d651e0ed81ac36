"""Retrieval quality on a real question set, every configuration side by side in one run.

    python bench/retrieval_quality.py [--set bench/data/postgres15.jsonl] [--write]

The corpus is the PostgreSQL 15 manual (bench/corpora.py, from Debian's package); the
questions were written over it by hand (bench/data, checked by bench/questions.py), split into
a `dev` half (for tuning) and a `test` half (reported, never tuned on). Each configuration
ingests the manual into a home of its own (ingest chunks/s) and is scored by `docqa eval
--mode search` on both halves (hit@1/5/10, MRR, query latency p50). Beside docqa's own
configurations stands the recipe tutorials teach: 1,000-character chunks with 200 characters
of overlap, MiniLM embeddings, exact cosine similarity, no lexical search.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.corpora import postgres_docs  # noqa: E402
from docqa.flows.evaluate import evaluate_search, load_items  # noqa: E402

DEFAULT_SET = REPO / "bench" / "data" / "postgres15.jsonl"
# docqa's configurations: a name, and the docqa.toml lines that make it. All share one
# ingested home (the weights act at query time, so the manual is ingested once).
CONFIGURATIONS = [
    (
        "docqa default: chunk vectors with title and headings + best sentence (1.0) + "
        "bm25 (0.3) + its document's best (0.3)",
        "",
    ),
    ("docqa, without the document term (document_weight = 0)", "document_weight = 0\n"),
    (
        "docqa, first tuning (sentence_weight = 0.75, document_weight = 0)",
        "sentence_weight = 0.75\ndocument_weight = 0\n",
    ),
    ("docqa, without the best sentence (sentence_weight = 0)", "sentence_weight = 0\n"),
    ("docqa, without bm25 (lexical_weight = 0)", "lexical_weight = 0\n"),
    (
        "docqa, dense only (the three weights 0)",
        "sentence_weight = 0\nlexical_weight = 0\ndocument_weight = 0\n",
    ),
]
# docqa 0.x before issue 16 (commit 8031d23), measured by this script then: reciprocal rank
# fusion (k=60) of MiniLM over the bare chunk text and FTS5; navigation blocks ingested
BEFORE = {
    "name": "before (8031d23): MiniLM on bare chunks + FTS5, reciprocal rank fusion",
    "test": {"hit@1": 0.309, "hit@5": 0.691, "hit@10": 0.786, "mrr": 0.462},
    "dev": {"hit@1": 0.326, "hit@5": 0.651},
    "p50_ms": 19,
    "chunks": 9517,
    "chunks_per_s": 22.3,
}


def docqa(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "docqa", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        check=False,
    )


def run_docqa_configuration(name: str, toml: str, docs: Path, qset: Path, work: Path) -> dict:
    from docqa.ingest.passages import PASSAGE_FORMAT

    home = work / f"home-passages{PASSAGE_FORMAT}"
    done = home / "ingest.json"  # a home ingested by an earlier run with --work is reused
    if not done.is_file():
        home.mkdir(parents=True, exist_ok=True)
        (home / "docqa.toml").write_text("")
        t0 = time.perf_counter()
        ingest = docqa(home, "ingest", str(docs), "--json")
        seconds = time.perf_counter() - t0
        if ingest.returncode not in (0, 3):
            raise SystemExit(f"{name}: ingest failed: {ingest.stderr[-2000:]}")
        chunks = json.loads(ingest.stdout)["chunks_total"]
        done.write_text(json.dumps({"seconds": seconds, "chunks": chunks}))
    ingested = json.loads(done.read_text())
    (home / "docqa.toml").write_text(toml)
    row = {
        "name": name,
        "home": home,
        "ingest_s": ingested["seconds"],
        "chunks": ingested["chunks"],
    }
    for half in ("dev", "test"):
        done = docqa(home, "eval", str(qset), "--half", half, "--json")
        if done.returncode != 0:
            raise SystemExit(f"{name}: eval failed: {done.stderr[-2000:]}")
        row[half] = json.loads(done.stdout)
    (home / "docqa.toml").write_text("")  # a kept home is left with the default settings
    return row


def candidate_recall(home: Path, qset: Path, depth: int = 100) -> dict[str, dict]:
    """Where the evidence stands in each retriever's own ranking (dense alone, lexical alone)
    and whether either brings it within `depth`: what fusion and reranking have to work with."""
    from docqa.components import Components
    from docqa.config import load_settings
    from docqa.flows.evaluate import normal

    comps = Components(load_settings(home=home))
    store, index = comps.store, comps.index
    chunks = comps.chunk_embedder  # the questions are embedded in the chunk vectors' space
    embed = chunks.embed_queries if chunks is not None else comps.embedder.embed
    texts: dict[int, str] = {}

    def text(cid: int) -> str:
        if cid not in texts:
            texts[cid] = normal(store.corpus.hits([(cid, {"score": 0.0})], None)[0].text)
        return texts[cid]

    out = {}
    try:
        for half in ("dev", "test"):
            items = [i for i in load_items(qset, half=half) if i.evidence]
            ranks: dict[str, list[int | None]] = {"dense": [], "lexical": [], "either": []}
            for item in items:
                want = normal(item.evidence)
                vector = embed([item.question])[0]
                found = {
                    "dense": [c for c, _ in index.query(vector, depth, None)],
                    "lexical": store.corpus.lexical_search(item.question, depth, None),
                }
                for name, ids in found.items():
                    ranks[name].append(
                        next((n for n, c in enumerate(ids, 1) if want in text(c)), None)
                    )
                both = [r for r in (ranks["dense"][-1], ranks["lexical"][-1]) if r]
                ranks["either"].append(min(both) if both else None)
            out[half] = {
                name: {
                    k: sum(r is not None and r <= k for r in rs) / len(rs)
                    for k in (1, 5, 10, depth)
                }
                for name, rs in ranks.items()
            }
    finally:
        comps.close()
    return out


def recall_table(recall: dict[str, dict], depth: int = 100) -> list[str]:
    lines = [
        "Where the evidence stands in each retriever's own ranking, for docqa's default "
        f'configuration ("either": the better of the two ranks; @{depth}: what a reranker over '
        f"{depth} candidates could reach):",
        "",
        f"| retriever | half | hit@1 | hit@5 | hit@10 | hit@{depth} |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for half, by_name in recall.items():
        for name, at in by_name.items():
            lines.append(
                f"| {name} | {half} | {at[1]:.3f} | {at[5]:.3f} | {at[10]:.3f} | {at[depth]:.3f} |"
            )
    return lines


def naive_chunks(docs: Path, size: int = 1000, overlap: int = 200) -> list[tuple[str, str]]:
    """(path, text) windows of `size` characters, `overlap` shared, over each page's text."""
    from docqa.ingest.loaders import load_document

    out = []
    for page in sorted(docs.glob("*.html")):
        text = "\n\n".join(b.text for b in load_document(page).blocks)
        for start in range(0, max(len(text) - overlap, 1), size - overlap):
            out.append((page.name, text[start : start + size]))
    return out


def run_naive(docs: Path, qset: Path, work: Path) -> dict:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from docqa.config import Settings, resolve_embedder_path

    model = SentenceTransformer(str(resolve_embedder_path(Settings(home=Path(".")))))
    chunks = naive_chunks(docs)
    import hashlib

    # reused by a later run with the same --work and the same chunks
    digest = hashlib.sha256("\0".join(t for _, t in chunks).encode()).hexdigest()[:12]
    kept = work / f"naive-vectors-{digest}.npy"
    if kept.is_file():
        vectors, seconds = np.load(kept), float(kept.with_suffix(".seconds").read_text())
    else:
        t0 = time.perf_counter()
        texts = [t for _, t in chunks]
        vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
        seconds = time.perf_counter() - t0
        work.mkdir(parents=True, exist_ok=True)
        np.save(kept, vectors)
        kept.with_suffix(".seconds").write_text(str(seconds))

    def search(question: str, depth: int) -> list[dict]:
        q = model.encode([question], normalize_embeddings=True)[0]
        best = np.argsort(-(vectors @ q))[:depth]
        return [{"path": chunks[i][0], "text": chunks[i][1]} for i in best]

    row = {
        "name": "tutorial recipe: 1,000-char chunks (200 overlap), MiniLM, exact cosine",
        "ingest_s": seconds,
        "chunks": len(chunks),
    }
    for half in ("dev", "test"):
        row[half] = evaluate_search(load_items(qset, half=half), search)
    return row


def table(rows: list[dict], qset: Path) -> list[str]:
    dev, test = rows[0]["dev"], rows[0]["test"]
    from docqa.adapters.llama_runtime import cpu_info

    shown = qset.relative_to(REPO) if qset.is_relative_to(REPO) else qset
    cpu = cpu_info()
    lines = [
        f"Question set: `{shown}`: dev {dev['with_evidence']} questions with "
        f"evidence, test {test['with_evidence']} (PostgreSQL 15 manual, 1,169 pages). "
        f"CPU: {cpu.model}, {os.cpu_count()} cores ({' '.join(cpu.features)}).",
        "",
        "| configuration | test hit@1 | test hit@5 | test hit@10 | test MRR | dev hit@1 | "
        "dev hit@5 | query p50 ms | chunks | ingest chunks/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        t, d = r["test"], r["dev"]
        lines.append(
            f"| {r['name']} | {t['hit@1']:.3f} | {t['hit@5']:.3f} | {t['hit@10']:.3f} | "
            f"{t['mrr']:.3f} | {d['hit@1']:.3f} | {d['hit@5']:.3f} | "
            f"{1000 * t['latency']['p50']:.0f} | {r['chunks']} | "
            f"{r['chunks'] / r['ingest_s']:.1f} |"
        )
    b, t, d = BEFORE, BEFORE["test"], BEFORE["dev"]
    lines.append(
        f"| {b['name']} (not re-run) | {t['hit@1']:.3f} | {t['hit@5']:.3f} | "
        f"{t['hit@10']:.3f} | {t['mrr']:.3f} | {d['hit@1']:.3f} | {d['hit@5']:.3f} | "
        f"{b['p50_ms']} | {b['chunks']} | {b['chunks_per_s']:.1f} |"
    )
    lines += [
        "",
        "Query latency is in-process per question (the embedding and search, not a new "
        "process's start-up); ingest chunks/s for docqa is the whole `docqa ingest` command "
        "(loading, chunking, embedding, indexing), for the tutorial recipe the embedding only.",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, default=DEFAULT_SET)
    ap.add_argument("--work", type=Path, help="keep each configuration's ingested home here")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    docs = postgres_docs(Path(tempfile.gettempdir()) / "docqa-corpora")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        rows = [
            run_docqa_configuration(name, toml, docs, args.set, work)
            for name, toml in CONFIGURATIONS
        ]
        recall = candidate_recall(rows[0]["home"], args.set)
        rows.append(run_naive(docs, args.set, work))
    text = "\n".join(table(rows, args.set.resolve()) + [""] + recall_table(recall))
    print(text)
    if args.write:
        from bench.results import write_section

        write_section(
            "bench/retrieval_quality.py", "Retrieval quality on a real question set", text
        )


if __name__ == "__main__":
    main()
