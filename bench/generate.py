"""Guided generation, measured side by side in one run on the bundled SmolLM2-135M-Instruct.

    python bench/generate.py [--tokens 96] [--repeats 3] [--write]

1. Decode speed: tokens/s of free text, of docqa's llguidance-constrained JSON, and of
   llama-cpp-python's own `grammar=` path (llama.cpp GBNF) for the same schema, same prompt,
   same number of tokens (EOS is not allowed to end any of them early).
2. Prefix KV cache: bringing a ~600-token static prefix into a new model instance by prefill
   (cold) against restoring its saved KV state from disk (warm), with identical output.
3. Prompt tokens prefilled per `chat` turn (bench/chat.py's conversation).
4. Token healing: its cost on one slot.
5. Weight layouts: llama.cpp's extra buffer types (AMX, CPU_REPACK) against plain buffers,
   prefill and decode tokens/s on this CPU (bench/layouts.py, which also runs alone and
   writes its own section).
A first table puts the three side by side.
--write puts the tables into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.results import write_section  # noqa: E402
from docqa.adapters.llama import LlamaCppLLM  # noqa: E402
from docqa.adapters.llama_decode import Decoder  # noqa: E402
from docqa.adapters.llama_kvcache import PrefixCache  # noqa: E402
from docqa.config import Settings, resolve_model_path  # noqa: E402
from docqa.guide.program import Program  # noqa: E402
from docqa.guide.slots import make_slot  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "points": {"type": "array", "items": {"type": "string"}},
        "year": {"type": "integer"},
    },
    "required": ["title", "points", "year"],
}
PROMPT = (
    "<|im_start|>user\nDescribe the Eiffel Tower in JSON with a title, a list of points and "
    "the year it opened.<|im_end|>\n<|im_start|>assistant\n"
)


def _decode_rate(llm: LlamaCppLLM, kind: str, n: int) -> float:
    """Tokens per second of pure decoding (the prompt is already in the context)."""
    engine = llm.engine
    tokens = engine.tokenize(PROMPT)
    engine.prefill(tokens)
    if kind == "gbnf":
        from llama_cpp import LlamaGrammar

        grammar = LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)
        eos = engine.eos
        t0 = time.perf_counter()
        out = engine.llm.create_completion(
            PROMPT,
            max_tokens=n,
            temperature=0.0,
            grammar=grammar,
            logit_bias={eos: -1e9},
        )
        dt = time.perf_counter() - t0
        return out["usage"]["completion_tokens"] / dt
    decoder = llm.decoder
    slot = (
        make_slot("x", schema=SCHEMA, max_tokens=10_000)
        if kind == "llguidance"
        else make_slot("x", max_tokens=10_000)
    )
    matcher = decoder._matcher(slot.grammar(), slot) if kind == "llguidance" else None
    t = -1
    t0 = time.perf_counter()
    for i in range(n):
        if i:
            engine.push(t)
        logits = engine.logits()
        logits[engine.eos] = -np.inf
        if matcher is not None:
            logits[~decoder._allowed(matcher)] = -np.inf
        t = int(np.argmax(logits))
        if matcher is not None:
            matcher.consume_token(t)
    return n / (time.perf_counter() - t0)


def bench_decode(model: Path, n: int, repeats: int) -> tuple[list[str], dict[str, float]]:
    llm = LlamaCppLLM(model, n_ctx=2048)
    llm.load()
    _decode_rate(llm, "llguidance", 8)  # build the tokenizer and tables before timing
    # llama-cpp-python's own default: half the cores (docqa uses them all)
    half = LlamaCppLLM(model, n_ctx=2048, threads=max(1, (os.cpu_count() or 2) // 2))
    half.load()
    rates: dict[str, list[float]] = {"free": [], "llguidance": [], "gbnf": [], "half": []}
    for _ in range(repeats):
        for kind in rates:
            if kind == "half":
                rates[kind].append(_decode_rate(half, "free", n))
            else:
                rates[kind].append(_decode_rate(llm, kind, n))
    free = statistics.median(rates["free"])
    rows = [
        "| decoding | tokens/s (median) | vs free |",
        "|---|---:|---:|",
    ]
    labels = {
        "free": "free text (no constraint)",
        "llguidance": "JSON schema, docqa (llguidance masks)",
        "gbnf": "JSON schema, llama-cpp-python `grammar=` (GBNF)",
        "half": f"free text on {half.engine.threads} thread(s), llama-cpp-python's default "
        f"(docqa decodes on {llm.engine.threads or os.cpu_count()})",
    }
    for kind, values in rates.items():
        med = statistics.median(values)
        rows.append(f"| {labels[kind]} | {med:.1f} | {med / free:.2f}x |")
    rows.append("")
    rows.append(
        f"{n} tokens per run, {repeats} runs each, interleaved; EOS banned so all "
        "runs decode the same number of tokens."
    )
    return rows, {kind: statistics.median(values) for kind, values in rates.items()}


def bench_prefix(model: Path, repeats: int) -> tuple[list[str], dict]:
    facts = " ".join(
        f"Rule {i}: answer only from the sources, cite them, keep to one line." for i in range(40)
    )
    prefix = f"<|im_start|>system\n{facts}<|im_end|>\n"
    prompt = prefix + "<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\n"
    cold_s, warm_s, outputs = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        cache = PrefixCache(Path(tmp))
        for r in range(repeats):
            llm = LlamaCppLLM(model, n_ctx=2048)
            llm.load()
            engine = llm.engine
            ptoks = engine.tokenize(prefix)
            t0 = time.perf_counter()
            engine.prefill(ptoks)
            cold_s.append(time.perf_counter() - t0)
            if r == 0:
                cache.save(engine, ptoks)
                size = cache.path_for(engine.key, ptoks).stat().st_size
            cold_out = Decoder(engine).fill(prompt, make_slot("x", max_tokens=12)).text
            fresh = LlamaCppLLM(model, n_ctx=2048)
            fresh.load()
            t0 = time.perf_counter()
            assert cache.load(fresh.engine, ptoks)
            warm_s.append(time.perf_counter() - t0)
            warm_fill = Decoder(fresh.engine).fill(prompt, make_slot("x", max_tokens=12))
            outputs.append(cold_out == warm_fill.text)
    cold, warm = statistics.median(cold_s), statistics.median(warm_s)
    summary = {"tokens": len(ptoks), "cold": cold, "warm": warm}
    return [
        "| static prefix of " + f"{len(ptoks)} tokens | seconds (median) |",
        "|---|---:|",
        f"| cold: prefill | {cold:.3f} |",
        f"| warm: restore the saved KV state ({size / 1e6:.1f} MB, no logits) | {warm:.4f} |",
        "",
        f"**Warm vs cold: {cold / warm:.0f}x faster** (goal >= 50x); greedy output identical "
        f"in {sum(outputs)}/{len(outputs)} runs.",
    ], summary


def bench_turns() -> tuple[list[str], list[dict]]:
    """Prompt tokens prefilled per conversation turn (bench/chat.py's conversation)."""
    from bench.chat import conversations, table

    runs = conversations()
    return table(runs), runs[0][1]


def bench_healing(model: Path, repeats: int) -> list[str]:
    llm = LlamaCppLLM(model, n_ctx=2048)
    llm.load()
    quality = (
        "The official website of the Python language is https:"
        "{{ gen('x', max_tokens=12, stop=' ') }}"
    )
    same = "import numpy as{{ gen('x', max_tokens=6, stop='\\n') }}"  # same value both ways
    rows = [
        "| prompt | healing | value | seconds (median) |",
        "|---|---|---|---:|",
    ]
    cost = {}
    for label, source in (("`...is https:`", quality), ("`import numpy as`", same)):
        for heal in (True, False):
            times, value = [], ""
            for _ in range(repeats):
                llm.engine.llm.reset()
                result = Program(source, "heal").run(llm, {}, heal=heal)
                times.append(result.fills[0].seconds)
                value = result.slots["x"]
            med = statistics.median(times)
            cost[(label, heal)] = (med, value)
            rows.append(f"| {label} | {'on' if heal else 'off'} | `{value}` | {med:.3f} |")
    (on, v_on), (off, v_off) = cost[("`import numpy as`", True)], cost[("`import numpy as`", False)]
    same_value = "the same value" if v_on == v_off else "different values"
    rows += [
        "",
        f"Healing cost on a slot where both give {same_value} (`{v_on}`): "
        f"{1000 * (on - off):+.0f} ms per slot (backing up one token, re-evaluating it, "
        "and masking the first token).",
    ]
    return rows


def bench_layouts(model: Path, repeats: int) -> list[str]:
    from bench.layouts import measure, requantized, table

    with tempfile.TemporaryDirectory() as tmp:
        return table(measure([model, requantized(model, Path(tmp))], repeats), repeats)


def summary(decode: dict[str, float], prefix: dict, turns: list[dict]) -> list[str]:
    free = decode["free"]
    rows = [
        "| what | without | with | ratio |",
        "|---|---:|---:|---:|",
        f"| decoding, tokens/s: free text / JSON schema with docqa's llguidance masks | "
        f"{free:.1f} | {decode['llguidance']:.1f} | {decode['llguidance'] / free:.2f}x |",
        f"| decoding, tokens/s: free text / JSON schema with llama.cpp GBNF `grammar=` | "
        f"{free:.1f} | {decode['gbnf']:.1f} | {decode['gbnf'] / free:.2f}x |",
        f"| decoding, tokens/s: llama-cpp-python's default threads (half the cores) / docqa's "
        f"(all of them) | {decode['half']:.1f} | {free:.1f} | "
        f"{free / decode['half']:.2f}x faster |",
        f"| a {prefix['tokens']}-token static prefix in a new process, s: prefilled (cold) / "
        f"restored from the KV cache (warm) | {prefix['cold']:.3f} | {prefix['warm']:.4f} | "
        f"{prefix['cold'] / prefix['warm']:.0f}x faster |",
    ]
    for t in turns:
        rows.append(
            f"| `chat` turn {t['turn']}, prompt tokens: whole prompt / prefilled | "
            f"{t['prompt']} | {t['evaluated']} | {t['evaluated'] / t['prompt']:.2f}x |"
        )
    rows += [
        "",
        "Details below. Time to the first answer token of a cold `docqa ask`, with and "
        "without the sources' KV state, is in the start-up section (bench/startup.py).",
    ]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    model = resolve_model_path(Settings(home=Path(tempfile.gettempdir())))
    decode_rows, decode = bench_decode(model, args.tokens, args.repeats)
    prefix_rows, prefix = bench_prefix(model, args.repeats)
    turn_rows, turns = bench_turns()
    sections = [
        ("In one table", summary(decode, prefix, turns)),
        ("Constrained decoding speed", decode_rows),
        ("Prefix KV cache across processes", prefix_rows),
        ("Prompt tokens per conversation turn", turn_rows),
        ("Token healing", bench_healing(model, args.repeats)),
        ("Weight layouts (bench/layouts.py)", bench_layouts(model, args.repeats)),
    ]
    text = "\n\n".join(f"### {title}\n\n" + "\n".join(rows) for title, rows in sections)
    print(text)
    if args.write:
        write_section("bench/generate.py", "Guided generation", text)


if __name__ == "__main__":
    main()
