"""Vector search: hnswlib recall against exact search, and query latency, at 10k and 100k
chunks, for the ef values docqa uses and around them.

    python bench/retrieval.py [--queries 500] [--write]

Vectors are real all-MiniLM-L6-v2 embeddings of prose paragraphs of the Python 3.11
documentation (Debian's python3.11-doc, fetched with apt-get download), embedded with the
ONNX export docqa uses for questions. 10k: 10,000 real paragraph vectors. 100k: those plus
90,000 made from them (a real vector moved in a random direction by as much as real vectors
are from their nearest neighbour, then normalised), so the local density matches the real
data; embedding 100k paragraphs would take this machine tens of minutes. Queries: other
paragraphs, not in the index. The index is built as docqa builds it (docqa.adapters.hnsw:
cosine space, M=16, ef_construction=200) and queried one vector at a time, as `ask` does.
--write puts the tables into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.corpora import paragraphs, python_docs  # noqa: E402
from bench.results import write_section  # noqa: E402
from docqa.adapters.hnsw import HnswIndex  # noqa: E402
from docqa.flows.retrieve import CANDIDATES_MIN, candidates_for  # noqa: E402

EFS = (10, 20, 40, 100, 200)


def embed(texts: list[str], home: Path) -> np.ndarray:
    """The texts embedded as docqa embeds questions (its ONNX export, made here once)."""
    from docqa.components import Components
    from docqa.config import Settings

    comps = Components(Settings(home=home))
    found = comps.prepare_query_embedder()
    if isinstance(found, str):
        raise SystemExit(f"no ONNX export: {found}")
    return Components(Settings(home=home)).embedder.embed(texts)


def grow(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` vectors: the real ones, then copies of random real ones moved in a random direction
    as far as a real vector is from its nearest real neighbour (the median), normalised."""
    sample = real[rng.choice(len(real), size=min(2000, len(real)), replace=False)]
    sims = sample @ real.T
    sims[sims > 0.9999] = -1  # not itself
    nn = float(np.median(sims.max(axis=1)))
    sigma = np.sqrt(1 / nn**2 - 1)  # cos(x, x + sigma * g) ~ 1 / sqrt(1 + sigma^2), |g| ~ 1
    base = real[rng.integers(0, len(real), size=n - len(real))]
    noise = rng.standard_normal(base.shape).astype(np.float32) / np.sqrt(real.shape[1])
    made = base + sigma * noise
    made /= np.linalg.norm(made, axis=1, keepdims=True)
    return np.vstack([real, made]).astype(np.float32)


def measure(vectors: np.ndarray, queries: np.ndarray, path: Path) -> dict:
    index = HnswIndex(path, vectors.shape[1])
    t = time.perf_counter()
    index.open((len(vectors), 0), lambda: iter([(np.arange(len(vectors)), vectors)]))
    build = time.perf_counter() - t
    exact = np.argsort(-(queries @ vectors.T), axis=1)
    k_app = candidates_for(5)  # what `ask` asks the index for at the default k=5
    out = {"build": build, "n": len(vectors), "rows": []}
    raw = index._require()
    for ef, k in [*((ef, 10) for ef in EFS), (index.ef_search, k_app)]:
        raw.set_ef(max(ef, k))
        hits, lat = 0, []
        for q, truth in zip(queries, exact, strict=True):
            t = time.perf_counter()
            labels, _ = raw.knn_query(q, k=k)
            lat.append(time.perf_counter() - t)
            hits += len(set(labels[0].tolist()) & set(truth[:k].tolist()))
        lat_ms = np.array(lat) * 1000
        out["rows"].append(
            {
                "ef": max(ef, k),
                "k": k,
                "recall": hits / (k * len(queries)),
                "p50": float(np.percentile(lat_ms, 50)),
                "p99": float(np.percentile(lat_ms, 99)),
                "app": (ef, k) == (index.ef_search, k_app),
            }
        )
    t = time.perf_counter()
    for q in queries:
        np.argpartition(-(vectors @ q), 10)[:10]
    out["exact_ms"] = (time.perf_counter() - t) * 1000 / len(queries)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        texts = paragraphs(python_docs(root / "download"))
        picked = rng.choice(len(texts), size=10_000 + args.queries, replace=False)
        t = time.perf_counter()
        vectors = embed([texts[i] for i in picked], root / "home")
        embed_s = time.perf_counter() - t
        real, queries = vectors[:10_000], vectors[10_000:]
        results = [
            ("10k real", measure(real, queries, root / "a.hnsw")),
            (
                "100k (10k real + 90k made from them)",
                measure(grow(real, 100_000, rng), queries, root / "b.hnsw"),
            ),
        ]
    rows = [
        "| vectors | ef | k | recall@k | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in results:
        for row in r["rows"]:
            mark = " (**docqa's default**)" if row["app"] else ""
            rows.append(
                f"| {label} | {row['ef']}{mark} | {row['k']} | {row['recall']:.4f} | "
                f"{row['p50']:.3f} | {row['p99']:.3f} |"
            )
    lines = [
        f"{len(texts)} paragraphs available; {10_000 + args.queries} embedded in {embed_s:.0f} s "
        f"({args.queries} of them are the queries). Build: "
        + "; ".join(f"{label}: {r['build']:.1f} s" for label, r in results)
        + ". Exact search (numpy, one query at a time): "
        + "; ".join(f"{label}: {r['exact_ms']:.2f} ms" for label, r in results)
        + ".",
        "",
        *rows,
        "",
        f"`ask` asks the index for max(4k, {CANDIDATES_MIN}) candidates (20 at k=5) with "
        "ef = max(100, that): the marked rows. Goal: recall >= 0.99 there.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("bench/retrieval.py", "Vector search: recall and latency", text)


if __name__ == "__main__":
    main()
