"""Ingest throughput: the whole `docqa ingest` pipeline against raw sentence-transformers
`encode` of the very same chunks, side by side in one run.

    python bench/ingest.py [--copies 10] [--repeats 3] [--write]

The corpus is sample_docs copied --copies times (every format, real text). Both sides use
one already-loaded model, so model loading is left out of both. The pipeline side covers
everything else: walking, reading, hashing, parsing, token-aware chunking, embedding, SQLite
writes (FTS5 included) and the hnswlib index. Repeats alternate the two sides and report the
median. --write puts the table into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402
from docqa.components import Components  # noqa: E402
from docqa.config import Settings  # noqa: E402
from docqa.flows.ingest import ingest  # noqa: E402


def make_corpus(root: Path, copies: int) -> Path:
    corpus = root / "corpus"
    for i in range(copies):
        shutil.copytree(REPO / "sample_docs", corpus / f"copy{i:03d}")
    return corpus


def pipeline_run(corpus: Path, home: Path, embedder) -> tuple[float, list[str]]:
    shutil.rmtree(home, ignore_errors=True)
    comps = Components(Settings(home=home), embedder=embedder)
    store, index = comps.store, comps.new_index()
    t0 = time.perf_counter()
    report = ingest([corpus], store=store, embedder=embedder, index=index)
    seconds = time.perf_counter() - t0
    texts = [r[0] for r in store.conn.execute("SELECT text FROM chunks ORDER BY id")]
    store.close()
    assert not report.failed and report.chunks_added == len(texts)
    return seconds, texts


def raw_run(model, texts: list[str]) -> float:
    t0 = time.perf_counter()
    model.encode(
        texts,
        batch_size=32,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = make_corpus(root, args.copies)
        comps = Components(Settings(home=root / "home"))
        embedder = comps.embedder
        embedder.load()
        model = embedder._model
        raw_runs, pipe_runs, texts = [], [], []
        pipeline_run(corpus, root / "warmup", embedder)  # warm caches and lazy imports
        for _ in range(args.repeats):
            seconds, texts = pipeline_run(corpus, root / "home", embedder)
            pipe_runs.append(seconds)
            raw_runs.append(raw_run(model, texts))
        n = len(texts)
        files = sum(1 for p in corpus.rglob("*") if p.is_file())

    pipe, raw = statistics.median(pipe_runs), statistics.median(raw_runs)
    rows = [
        ("raw `SentenceTransformer.encode` (batch 32)", raw, n / raw),
        ("`docqa ingest` pipeline (read, parse, chunk, embed, SQLite, hnswlib)", pipe, n / pipe),
    ]
    lines = [
        f"Corpus: sample_docs x {args.copies} = {files} files, {n} chunks (<= 256 tokens each); "
        f"median of {args.repeats} alternating runs; {platform.machine()}, "
        f"{os.cpu_count()} cores.",
        "",
        "| what | seconds | chunks/s |",
        "|---|---:|---:|",
        *[f"| {name} | {s:.2f} | {n / s:.1f} |" for name, s, _ in rows],
        "",
        f"**Pipeline / raw encode throughput: {raw / pipe:.2f}x** (goal >= 0.9x).",
        "",
        f"All runs, seconds: pipeline {', '.join(f'{s:.2f}' for s in pipe_runs)}; "
        f"raw {', '.join(f'{s:.2f}' for s in raw_runs)}.",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("bench/ingest.py", "Ingest throughput", text)


if __name__ == "__main__":
    main()
