"""Chunking a file with no line breaks: peak memory and time, with the chunker tokenizing
TOKENIZE_BATCH texts at a time (docqa's) and all of a document's texts at once (before).

    python bench/chunking.py [--mb 11 50] [--write]

Each run is its own process (peak RSS is VmHWM from /proc). The text is generated words with
a full stop now and then, as one line; the tokenizer is the bundled MiniLM's.
--write puts the table into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import write_section  # noqa: E402

CHILD = """
import json, random, sys, time
from docqa.adapters.embedder import HFTokenizer
from docqa.components import resolve_embedder_path
from docqa.config import load_settings
from docqa.ingest import chunker
from docqa.records import Block, LoadedDocument

mb, batch = float(sys.argv[1]), int(sys.argv[2])
chunker.TOKENIZE_BATCH = batch
tok = HFTokenizer(resolve_embedder_path(load_settings(env={})) / "tokenizer.json")
rng = random.Random(0)
words = "river mountain harbour engine ledger orchard lantern signal copper meadow".split()
parts, size = [], 0
while size < mb * 1e6:
    w = rng.choice(words) + ("." if rng.random() < 0.05 else "")
    parts.append(w)
    size += len(w) + 1
line = " ".join(parts)
base = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0])
begun = time.perf_counter()
chunks = chunker.chunk_document(LoadedDocument("/x.txt", "text", None, (Block(line, 1, 1),)), tok)
seconds = time.perf_counter() - begun
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
print(json.dumps({"chunks": len(chunks), "seconds": seconds, "peak_mb": peak / 1024,
                  "before_mb": base / 1024}))
"""


def run(mb: float, batch: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(mb), str(batch)], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, nargs="+", default=[11, 50])
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    from docqa.ingest.chunker import TOKENIZE_BATCH

    rows = [
        "| single line | tokenized | chunks | peak RSS "
        "| RSS before chunking (text, tokenizer) | seconds |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for mb in args.mb:
        for label, batch in ((f"{TOKENIZE_BATCH} texts at a time", TOKENIZE_BATCH),
                             ("all at once (before)", 10**9)):  # fmt: skip
            r = run(mb, batch)
            rows.append(
                f"| {mb:g} MB | {label} | {r['chunks']:,} | {r['peak_mb']:.0f} MB "
                f"| {r['before_mb']:.0f} MB | {r['seconds']:.1f} |"
            )
            print(rows[-1], flush=True)
    text = "\n".join(rows)
    print(text)
    if args.write:
        write_section("bench/chunking.py", "Chunking one long line: memory", text)


if __name__ == "__main__":
    main()
