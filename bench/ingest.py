"""Ingest on a large real corpus: the whole `docqa ingest` pipeline against raw
sentence-transformers `encode` of the very same texts (chunks and sentences), peak memory at
two corpus sizes, and the ONNX / int8 embedding alternatives, side by side in one run.

    python bench/ingest.py [--every 8] [--write]

Corpus: the Python 3.11 documentation as HTML (Debian's python3.11-doc: 530 files, ~67 MB,
16k chunks), fetched with apt-get download; every --every-th file (sorted by path) is used so
the run fits in minutes. Each measurement runs in its own process, with the model loaded
before the clock starts. The pipeline covers walking, reading, hashing, HTML parsing,
token-aware chunking, embedding, SQLite writes (FTS5 included) and the hnswlib index. Peak
memory is the process's VmHWM (peak resident set); the pipeline streams (files in batches,
nothing held for the whole corpus), so it should not grow with the corpus: it is measured on
a quarter of the subset and on the whole subset. --write puts the tables into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- workers (each in its own process) -------------------------------------------------------
def worker_pipeline(corpus: Path, home: Path) -> dict:
    from docqa.components import Components
    from docqa.config import Settings
    from docqa.flows.ingest import ingest

    comps = Components(Settings(home=home))
    embedder = comps.document_embedder
    embedder.load()
    embedder.embed(["warm up"])
    loaded = rss_mb()
    t = time.perf_counter()
    report = ingest([corpus], store=comps.store, embedder=embedder, index=comps.new_index())
    seconds = time.perf_counter() - t
    from docqa.ingest.passages import embedding_text, sentence_spans

    rows = comps.store.conn.execute(
        "SELECT d.title, c.heading, c.text FROM chunks c JOIN documents d"
        " ON d.id = c.document_id ORDER BY c.id"
    ).fetchall()
    # what the pipeline embedded: each chunk with its title and headings, and its sentences
    texts = [embedding_text(*r) for r in rows]
    sentences = [r[2][a:b] for r in rows for a, b in sentence_spans(r[2])]
    (home / "texts.json").write_text(json.dumps(texts))
    (home / "sentences.json").write_text(json.dumps(sentences))
    return {
        "seconds": seconds,
        "chunks": report.chunks_added,
        "files": report.added,
        "failed": len(report.failed),
        "loaded_mb": loaded,
        "peak_mb": peak_rss_mb(),
    }


def worker_raw(texts_file: Path) -> dict:
    from docqa.components import Components
    from docqa.config import Settings

    texts = json.loads(texts_file.read_text())
    sentences = json.loads(texts_file.with_name("sentences.json").read_text())
    embedder = Components(Settings(home=texts_file.parent)).document_embedder
    embedder.load()
    model = embedder._model
    model.encode(["warm up"])
    loaded = rss_mb()
    t = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    chunks_only = time.perf_counter() - t
    model.encode(sentences, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return {
        "seconds": time.perf_counter() - t,
        "chunks_seconds": chunks_only,
        "sentences": len(sentences),
        "chunks": len(texts),
        "loaded_mb": loaded,
        "peak_mb": peak_rss_mb(),
    }


def worker_backends(texts_file: Path, sample: int) -> dict:
    """torch vs its ONNX export vs that export quantized to int8, on the same chunks."""
    import numpy as np
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from docqa.adapters.onnx_embedder import OnnxEmbedder
    from docqa.components import Components
    from docqa.config import Settings

    texts = json.loads(texts_file.read_text())[:sample]
    comps = Components(Settings(home=texts_file.parent / "backends"))
    model = comps.document_embedder
    export = comps.prepare_query_embedder()
    int8 = export.path.with_name("model-int8.onnx")
    quantize_dynamic(str(export.path), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    out: dict = {"chunks": len(texts)}
    vectors = {}
    for name, embedder in (
        ("torch", model),
        ("onnx", OnnxEmbedder(export.path, model)),
        ("int8", OnnxEmbedder(int8, model)),
    ):
        embedder.embed(texts[:8])
        t = time.perf_counter()
        vectors[name] = embedder.embed(texts)
        out[name] = {"seconds": time.perf_counter() - t}
    for name in ("onnx", "int8"):
        cos = (vectors[name] * vectors["torch"]).sum(axis=1)

        # neighbours: each chunk's 10 nearest other chunks, as torch and as this backend see them
        def top(v):
            sims = v @ v.T
            np.fill_diagonal(sims, -2)
            return np.argsort(-sims, axis=1)[:, :10]

        same = np.mean(
            [
                len(set(a) & set(b)) / 10
                for a, b in zip(top(vectors["torch"]), top(vectors[name]), strict=True)
            ]
        )
        out[name].update(min_cos=float(cos.min()), median_cos=float(np.median(cos)), top10=same)
    return out


# -- the run ----------------------------------------------------------------------------------
def run_worker(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", *args], capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"worker {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def subset(html: Path, dest: Path, every: int) -> Path:
    files = sorted(p for p in html.rglob("*.html") if p.is_file())
    for i, file in enumerate(files):
        if i % every == 0:
            target = dest / file.relative_to(html)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=int, default=8, help="use every N-th file of the corpus")
    ap.add_argument("--sample", type=int, default=256, help="chunks for the backend comparison")
    ap.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "pipeline":
            result = worker_pipeline(Path(rest[0]), Path(rest[1]))
        elif kind == "raw":
            result = worker_raw(Path(rest[0]))
        else:
            result = worker_backends(Path(rest[0]), int(rest[1]))
        print(json.dumps(result))
        return

    from bench.corpora import python_docs

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        html = python_docs(root / "download") / "html"
        whole = subset(html, root / "whole", args.every)
        quarter = subset(html, root / "quarter", args.every * 4)
        small = run_worker("pipeline", str(quarter), str(root / "home-quarter"))
        pipe = run_worker("pipeline", str(whole), str(root / "home-whole"))
        raw = run_worker("raw", str(root / "home-whole" / "texts.json"))
        backends = run_worker("backends", str(root / "home-whole" / "texts.json"), str(args.sample))

    n = pipe["chunks"]
    lines = [
        f"Corpus: every {args.every}th file of the Python 3.11 HTML documentation = "
        f"{pipe['files']} files, {n} chunks (<= 256 tokens each); {platform.machine()}, "
        f"{os.cpu_count()} cores.",
        "",
        "| what | seconds | chunks/s | peak RSS MB |",
        "|---|---:|---:|---:|",
        f"| raw `SentenceTransformer.encode` of the same chunks alone (batch 32) | "
        f"{raw['chunks_seconds']:.1f} | {n / raw['chunks_seconds']:.1f} | |",
        f"| raw `SentenceTransformer.encode` of the same chunks and their "
        f"{raw['sentences']:,} sentences (batch 32) | "
        f"{raw['seconds']:.1f} | {n / raw['seconds']:.1f} | {raw['peak_mb']:.0f} |",
        f"| `docqa ingest` pipeline (read, parse HTML, chunk, embed, SQLite, hnswlib) | "
        f"{pipe['seconds']:.1f} | {n / pipe['seconds']:.1f} | {pipe['peak_mb']:.0f} |",
        "",
        f"**Pipeline / raw encode throughput: {raw['seconds'] / pipe['seconds']:.2f}x** "
        "(goal >= 0.9x). The sentences' vectors (docqa.ingest.passages) cost "
        f"{raw['seconds'] / raw['chunks_seconds']:.2f}x the chunks' alone.",
        "",
        "Peak memory against corpus size (each a new process; the model alone, loaded and "
        "warmed up, is the first column):",
        "",
        "| corpus | files | chunks | RSS after loading the model MB | peak RSS MB | growth MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in (("a quarter", small), ("all of it", pipe)):
        lines.append(
            f"| {label} | {r['files']} | {r['chunks']} | {r['loaded_mb']:.0f} | "
            f"{r['peak_mb']:.0f} | {r['peak_mb'] - r['loaded_mb']:.0f} |"
        )
    t = backends["torch"]["seconds"]
    lines += [
        "",
        f"Embedding backends on the first {backends['chunks']} of those chunks:",
        "",
        "| backend | chunks/s | vs torch | cosine to torch (min / median) | same 10 nearest |",
        "|---|---:|---:|---:|---:|",
        f"| sentence-transformers (torch) | {backends['chunks'] / t:.1f} | 1.00x | - | - |",
    ]
    for name, label in (("onnx", "ONNX export (fp32)"), ("int8", "ONNX export, int8 dynamic")):
        b = backends[name]
        lines.append(
            f"| {label} | {backends['chunks'] / b['seconds']:.1f} | {t / b['seconds']:.2f}x | "
            f"{b['min_cos']:.4f} / {b['median_cos']:.4f} | {100 * b['top10']:.1f}% |"
        )
    i8 = backends["int8"]
    speed, kept = t / i8["seconds"], i8["top10"]
    verdict = (
        "it is both: worth offering"
        if speed >= 2 and kept >= 0.99
        else f"it is {speed:.2f}x the speed and keeps {100 * kept:.1f}% of the neighbours, "
        "so docqa does not offer it"
    )
    lines += [
        "",
        "An int8 option is worth offering only at >= 2x the speed with retrieval within 1%: "
        f"here {verdict}. `docqa ingest` embeds chunks and their sentences with torch (the "
        "model is loaded anyway); questions, and the sentences `ask` checks, with the ONNX "
        "export (it starts without torch).",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("bench/ingest.py", "Ingest on a large real corpus", text)


if __name__ == "__main__":
    main()
