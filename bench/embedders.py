"""Embedders side by side on the PostgreSQL question set: MiniLM against nomic-embed-text-v1.5.

    python bench/embedders.py [--work DIR] [--pages 60] [--write]
    python bench/embedders.py --adapter

--adapter: the batch size of docqa's nomic-embed adapter (docqa.adapters.llama_embedder),
alone. nomic-embed-v1.5's f16 GGUF, found as docqa finds it (DOCQA_MODEL_DIR, else its
packages), is loaded by that adapter (`Llama(..., embedding=True)`, weights in plain buffers)
with n_ctx = n_batch = n_ubatch = each of ADAPTER_BATCHES, and embeds the same passages at
each: the first ADAPTER_PASSAGES chunks of sample_docs/, chunked as `docqa ingest` chunks
them (MiniLM's tokenizer, the default chunk size) with their titles and headings. Prints
passages/s per setting and the CPU.

Quality: the whole PostgreSQL 15 manual (bench/corpora.py) is ingested once with MiniLM
(`docqa ingest`), then a copy of that store is moved to nomic-embed with `docqa reindex
--embedder nomic-embed-v1.5` (768-d), and a copy of that one to the 256-d Matryoshka cut (by
the reindex flow, from the stored 768-d vectors: cutting a stored unit vector gives exactly
what the model's own output cuts to, docqa.adapters.llama_embedder.cut). Each store is scored
in-process on both halves of bench/data/postgres15.jsonl (hit@1/5/10, MRR), at docqa's
default fusion weights and at the weights that do best on the dev half over a grid (chosen on
dev, reported on test). "Without sentence vectors" is the best dev grid point with
sentence_weight = 0: with no sentence vectors a chunk's sentence score is its dense score, so
the two rank identically (weights rescaled by 1 + sentence_weight).

Speed: `docqa ingest` of the first --pages pages of the manual (sorted by name) into a new
home per configuration, whole command (chunks/s, peak RSS from /usr/bin/time); query latency
p50/p95 in-process per question (both embedders' query vectors, search, fusion); the cold
`docqa search` process for each store, and whether it imported torch. Store MB: docqa.db and
the index files (without sentence vectors: less the chunk_sentences blobs).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
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

QSET = REPO / "bench" / "data" / "postgres15.jsonl"
GRID = {
    "sentence_weight": (0.0, 0.5, 1.0, 1.5),
    "lexical_weight": (0.1, 0.3, 0.5),
    "document_weight": (0.0, 0.3),
}
PROBE = "What is the maximum number of columns in a table?"
ADAPTER_BATCHES = (512, 1024, 2048)
ADAPTER_PASSAGES = 120


def docqa(home: Path, *args: str, timed: bool = False) -> tuple[subprocess.CompletedProcess, dict]:
    """Run docqa in a new process; with `timed`, its wall seconds and peak RSS (MB)."""
    cmd = [sys.executable, "-m", "docqa", *args, "--home", str(home)]
    facts: dict = {}
    if timed and Path("/usr/bin/time").is_file():
        out = Path(tempfile.mkstemp(suffix=".time")[1])
        cmd = ["/usr/bin/time", "-f", "%e %M", "-o", str(out), *cmd]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    facts["seconds"] = time.perf_counter() - t0
    if cmd[0] == "/usr/bin/time":
        wall, rss = out.read_text().split()[-2:]
        facts["peak_rss_mb"] = int(rss) / 1024
        out.unlink()
    if done.returncode not in (0, 3):
        raise SystemExit(f"docqa {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done, facts


def store_mb(home: Path, without_sentences: bool = False) -> float:
    import sqlite3

    files = [p for p in home.iterdir() if p.name.startswith(("docqa.db", "index"))]
    total = sum(p.stat().st_size for p in files)
    if without_sentences:
        conn = sqlite3.connect(f"file:{home / 'docqa.db'}?mode=ro", uri=True)
        sql = "SELECT coalesce(sum(length(vectors)), 0) FROM chunk_sentences"
        total -= conn.execute(sql).fetchone()[0]
        conn.close()
    return total / 1e6


def full_stores(docs: Path, work: Path) -> dict[str, Path]:
    """The manual in a MiniLM store, and copies moved to nomic 768 and 256 (each made once
    per --work folder)."""
    minilm, n768, n256 = work / "minilm", work / "nomic-768", work / "nomic-256"
    if not (minilm / "done.json").is_file():
        shutil.rmtree(minilm, ignore_errors=True)
        minilm.mkdir(parents=True)
        _, facts = docqa(minilm, "ingest", str(docs), "--json", timed=True)
        (minilm / "done.json").write_text(json.dumps(facts))
    if not (n768 / "done.json").is_file():
        if not n768.is_dir():  # else an interrupted reindex, which goes on where it stopped
            shutil.copytree(minilm, n768, ignore=shutil.ignore_patterns("done.json", "write.lock"))
        done, facts = docqa(n768, "reindex", "--embedder", "nomic-embed-v1.5", "--json", timed=True)
        (n768 / "done.json").write_text(json.dumps({**facts, **json.loads(done.stdout)}))
    if not (n256 / "done.json").is_file():
        shutil.rmtree(n256, ignore_errors=True)
        shutil.copytree(n768, n256, ignore=shutil.ignore_patterns("done.json", "write.lock"))
        (n256 / "done.json").write_text(json.dumps(recut(n256, 256)))
    return {"minilm": minilm, "nomic-768": n768, "nomic-256": n256}


def recut(home: Path, dimension: int) -> dict:
    """Move a nomic store to a Matryoshka cut of its own vectors, through the reindex flow."""
    import numpy as np

    from docqa.adapters.llama_embedder import LlamaEmbedder, cut
    from docqa.components import Components
    from docqa.config import load_settings
    from docqa.flows.ingest import Embeddings
    from docqa.flows.reindex import reindex
    from docqa.ingest.passages import embedding_text

    comps = Components(load_settings(home=home, embedder="nomic-embed-v1.5"))
    full = comps.chunk_embedder
    rows = comps.store.conn.execute(
        "SELECT d.title, c.heading, c.text, c.embedding FROM chunks c"
        " JOIN documents d ON d.id = c.document_id"
    ).fetchall()
    stored = {embedding_text(t, h, x): np.frombuffer(v, np.float32) for t, h, x, v in rows}

    class Recut(LlamaEmbedder):
        def embed_documents(self, texts):
            return cut(np.stack([stored[t] for t in texts]), self.dimension)

    target = Recut(full.path, name=full.model, dimension=dimension)
    t0 = time.perf_counter()
    report = reindex(
        store=comps.store,
        embeddings=Embeddings(comps.document_embedder, target, True),
        index=comps.new_index(dimension),
    )
    comps.close()
    return {"seconds": time.perf_counter() - t0, "embedder": report.embedder}


def score_store(name: str, home: Path) -> dict:
    """Latency at the default weights (uncached), then every grid point on both halves."""
    from docqa.components import Components
    from docqa.config import load_settings
    from docqa.flows.memo import EmbeddingMemo
    from docqa.flows.retrieve import Ranking, retrieve

    comps = Components(load_settings(home=home))
    index, store = comps.index, comps.store
    words, chunks = comps.embedder, comps.chunk_embedder
    words.load()
    if chunks is not None:
        chunks.load()
    halves = {h: load_items(QSET, half=h) for h in ("dev", "test")}

    def searcher(emb, chunk_emb, ranking):
        def search(question: str, depth: int) -> list[dict]:
            found = retrieve(
                question,
                store=store,
                embedder=emb,
                index=index,
                k=depth,
                ranking=ranking,
                chunk_embedder=chunk_emb,
            )
            return [{"path": h.path, "text": h.text} for h in found.hits]

        return search

    default = {h: evaluate_search(items, searcher(words, chunks, Ranking())) for h, items in
               halves.items()}  # fmt: skip
    latency = default["test"]["latency"]
    # the grid asks the same questions again: each is embedded once per store
    cached_words = EmbeddingMemo(words)
    cached_chunks = EmbeddingMemo(chunks) if chunks is not None else None
    grid = []
    for sw, lw, dw in itertools.product(*GRID.values()):
        ranking = Ranking(sw, lw, dw)
        result = {
            h: evaluate_search(items, searcher(cached_words, cached_chunks, ranking))
            for h, items in halves.items()
        }
        grid.append({"weights": (sw, lw, dw), **result})
    comps.close()
    return {"name": name, "default": default, "latency": latency, "grid": grid}


def best(grid: list[dict], sentences: bool = True) -> dict:
    """The grid point with the best dev hit@5 (then dev MRR)."""
    points = [g for g in grid if sentences or g["weights"][0] == 0.0]
    return max(points, key=lambda g: (g["dev"]["hit@5"], g["dev"]["mrr"]))


def ingest_speed(docs: Path, pages: int, work: Path) -> dict[str, dict]:
    """`docqa ingest` of the first `pages` pages into a new home per configuration."""
    subset = work / f"subset-{pages}"
    if not subset.is_dir():
        subset.mkdir(parents=True)
        for page in sorted(docs.glob("*.html"))[:pages]:
            shutil.copy(page, subset / page.name)
    nomic = 'embedder = "nomic-embed-v1.5"\n'
    configs = {
        "minilm": "",
        "minilm, no sentence vectors": "sentence_vectors = false\n",
        "nomic-768": nomic,
        "nomic-768, no sentence vectors": nomic + "sentence_vectors = false\n",
    }
    out = {}
    for name, toml in configs.items():
        home = Path(tempfile.mkdtemp(prefix="docqa-embedders-"))
        (home / "docqa.toml").write_text(toml)
        done, facts = docqa(home, "ingest", str(subset), "--json", timed=True)
        chunks = json.loads(done.stdout)["chunks_total"]
        out[name] = {**facts, "chunks": chunks, "chunks_per_s": chunks / facts["seconds"]}
        shutil.rmtree(home)
    return out


def cold_search(home: Path, repeats: int = 3) -> dict:
    """A new `docqa search` process: median wall seconds, and whether torch was imported."""
    times = []
    for _ in range(repeats):
        _, facts = docqa(home, "search", PROBE, "--json")
        times.append(facts["seconds"])
    argv = ["docqa", "search", PROBE, "--home", str(home), "--json"]
    code = (
        f"import sys, runpy; sys.argv = {argv!r}\n"
        "try:\n    runpy.run_module('docqa', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print('TORCH', 'torch' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    return {"p50": statistics.median(times), "torch": "TORCH True" in done.stderr}


def sample_passages(count: int = ADAPTER_PASSAGES) -> list[str]:
    """The first `count` chunks of sample_docs/ (files in path order) as `docqa ingest`
    embeds them; the list starts again from the first chunk if there are fewer."""
    from docqa.components import Components
    from docqa.config import load_settings
    from docqa.ingest.chunker import chunk_document
    from docqa.ingest.loaders import format_of, load_document
    from docqa.ingest.passages import embedding_text

    settings = load_settings()
    tokenizer = Components(settings).document_embedder.tokenizer  # tokenizer.json only
    texts = []
    for path in sorted((REPO / "sample_docs").rglob("*")):
        if path.is_file() and format_of(path):
            doc = load_document(path)
            for c in chunk_document(doc, tokenizer, settings.chunk_tokens, settings.chunk_overlap):
                texts.append(embedding_text(doc.title, c.heading, c.text))
    return list(itertools.islice(itertools.cycle(texts), count))


def adapter_speed(passages: list[str]) -> list[str]:
    """nomic-embed through docqa's adapter at each batch size: passages/s over `passages`
    (after a warm-up of a few), loading not counted."""
    import gc

    from docqa.adapters.llama_embedder import LlamaEmbedder
    from docqa.adapters.llama_engine import usable_cores
    from docqa.adapters.llama_runtime import cpu_info
    from docqa.components import NOMIC_MODEL
    from docqa.config import load_settings, resolve_nomic_path

    settings = load_settings()
    path = resolve_nomic_path(settings)
    threads = settings.threads or usable_cores()
    lines = [
        f"CPU: {cpu_info().model}, {threads} threads. {path.name}, {len(passages)} passages "
        "from sample_docs/ (bench/embedders.py --adapter).",
        "",
        "| n_batch = n_ubatch | passages/s |",
        "|---:|---:|",
    ]
    for tokens in ADAPTER_BATCHES:
        embedder = LlamaEmbedder(path, name=NOMIC_MODEL, threads=threads, batch_tokens=tokens)
        embedder.load()
        embedder.embed_documents(passages[:4])
        t0 = time.perf_counter()
        embedder.embed_documents(passages)
        rate = len(passages) / (time.perf_counter() - t0)
        lines.append(f"| {tokens} | {rate:.2f} |")
        print(lines[-1], file=sys.stderr, flush=True)
        del embedder
        gc.collect()
    return lines


def table(scores: list[dict], speed: dict, cold: dict, stores: dict, extra: dict) -> list[str]:
    from docqa.adapters.llama_runtime import cpu_info

    cpu = cpu_info()
    lines = [
        f"CPU: {cpu.model}, {os.cpu_count()} cores ({' '.join(cpu.features)}). Question set: "
        f"`bench/data/postgres15.jsonl` (PostgreSQL 15 manual, whole). Weights: sentence, "
        "bm25, document; 'tuned' = the best dev hit@5 over the grid "
        f"{ {k: list(v) for k, v in GRID.items()} }, reported on test.",
        "",
        "| configuration | weights | test hit@1 | test hit@5 | test hit@10 | test MRR | "
        "dev hit@1 | dev hit@5 | query p50 / p95 ms | store MB | ingest chunks/s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def row(label, point, lat, mb, spd):
        t, d = point["test"], point["dev"]
        w = ", ".join(f"{x:g}" for x in point["weights"])
        lines.append(
            f"| {label} | {w} | {t['hit@1']:.3f} | {t['hit@5']:.3f} | {t['hit@10']:.3f} | "
            f"{t['mrr']:.3f} | {d['hit@1']:.3f} | {d['hit@5']:.3f} | "
            f"{1000 * lat['p50']:.0f} / {1000 * lat['p95']:.0f} | {mb:.0f} | "
            f"{spd['chunks_per_s']:.2f} | {spd['peak_rss_mb']:.0f} |"
        )

    for s in scores:
        name = s["name"]
        base = name.split("-")[0] if name.startswith("nomic") else name
        spd = speed["nomic-768" if base == "nomic" else "minilm"]
        spd_plain = speed[("nomic-768" if base == "nomic" else "minilm") + ", no sentence vectors"]
        default = {"weights": (1.0, 0.3, 0.3), **s["default"]}
        row(f"{name}, default weights", default, s["latency"], extra[name]["mb"], spd)
        row(f"{name}, tuned", best(s["grid"]), s["latency"], extra[name]["mb"], spd)
        row(
            f"{name}, no sentence vectors, tuned",
            best(s["grid"], sentences=False),
            s["latency"],
            extra[name]["mb_plain"],
            spd_plain,
        )
    lines += ["", "Cold `docqa search` (a new process, median of 3):", ""]
    for name, c in cold.items():
        lines.append(f"- {name}: {c['p50']:.2f} s, torch imported: {c['torch']}")
    lines += [
        "",
        "Ingest chunks/s and peak RSS: the whole `docqa ingest` of the first "
        f"{extra['pages']} pages ({speed['minilm']['chunks']} chunks) into a new home (the "
        "ONNX export of MiniLM, about 2 s, included in each); "
        "nomic 256 runs the same model as 768 (the cut is free). Reindexing the whole manual "
        f"to nomic-768 embedded {stores['nomic-768']['embedded']} chunks in the last run in "
        f"{stores['nomic-768']['seconds']:.0f} s "
        f"({stores['nomic-768']['embedded'] / stores['nomic-768']['seconds']:.2f} chunks/s, "
        "chunk vectors only, sentence vectors kept).",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "docqa-embedders")
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("--skip-speed", action="store_true", help="quality only")
    ap.add_argument("--write", action="store_true")
    ap.add_argument(
        "--adapter",
        action="store_true",
        help="only nomic-embed's passages/s at each llama.cpp batch size (a few minutes)",
    )
    args = ap.parse_args()
    if args.adapter:
        print("\n".join(adapter_speed(sample_passages())))
        return
    docs = postgres_docs(Path(tempfile.gettempdir()) / "docqa-corpora")
    homes = full_stores(docs, args.work)
    stores = {name: json.loads((h / "done.json").read_text()) for name, h in homes.items()}
    scores = [score_store(name, home) for name, home in homes.items()]
    extra = {
        name: {"mb": store_mb(home), "mb_plain": store_mb(home, True)}
        for name, home in homes.items()
    }
    extra["pages"] = args.pages
    cold = {name: cold_search(home) for name, home in homes.items()}
    speed_file = args.work / f"speed-{args.pages}.json"
    if args.skip_speed and speed_file.is_file():
        speed = json.loads(speed_file.read_text())
    else:
        speed = ingest_speed(docs, args.pages, args.work)
        speed_file.write_text(json.dumps(speed))
    (args.work / "scores.json").write_text(json.dumps(scores, default=str))
    text = "\n".join(table(scores, speed, cold, stores, extra))
    print(text)
    if args.write:
        from bench.results import write_section

        write_section("bench/embedders.py", "Embedders: MiniLM and nomic-embed-text-v1.5", text)


if __name__ == "__main__":
    main()
