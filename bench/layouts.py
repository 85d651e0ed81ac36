"""llama.cpp's weight layouts side by side: extra buffer types (AMX tiles, repacked rows) against
plain buffers, prefill and decode tokens/s, for the bundled model and for the same model
requantized to Q4_0 (a type the CPU_REPACK kernels take on AVX2 and AVX-512 machines).

    python bench/layouts.py [--repeats 3] [--model FILE.gguf]... [--write]

bench/generate.py runs this as one of its sections. Each (model, layout) is loaded once; runs
are interleaved so both layouts see the same machine load. The CPU and llama.cpp's own system
line head the table, since the answer depends on them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from docqa.adapters.llama import LlamaCppLLM  # noqa: E402
from docqa.adapters.llama_engine import usable_cores  # noqa: E402
from docqa.adapters.llama_runtime import (  # noqa: E402
    choose,
    cpu_info,
    llama_build,
)
from docqa.config import Settings, resolve_model_path  # noqa: E402

PREFILL_TEXT = (REPO / "sample_docs" / "eiffel_tower.txt").read_text()


def requantized(source: Path, folder: Path, ftype: str = "Q4_0") -> Path:
    """`source` requantized to `ftype` with llama.cpp's own quantizer (a few seconds for the
    135M model): a file whose weights the CPU_REPACK kernels take."""
    import llama_cpp

    out = folder / f"{source.stem}.requantized-{ftype}.gguf"
    if out.is_file():
        return out
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{ftype}")
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    from docqa.adapters.llama_engine import _quiet_stderr

    with _quiet_stderr():
        failed = llama_cpp.llama_model_quantize(str(source).encode(), str(tmp).encode(), params)
    if failed:
        raise RuntimeError(f"llama_model_quantize failed ({failed}) for {source}")
    os.replace(tmp, out)
    return out


def _buffers(model: Path) -> dict[str, float]:
    """Which buffer types plain loading puts the weights in (from a child's load log)."""
    from docqa.adapters.llama_runtime import run_child

    result = run_child(model, "plain", 1)
    return result.buffers if result.ok else {"(probe failed)": 0.0}


def _rates(llm: LlamaCppLLM, prompt: list[int], n_decode: int) -> tuple[float, float]:
    engine = llm.engine
    engine.llm.reset()
    t0 = time.perf_counter()
    engine.prefill(prompt)
    prefill = len(prompt) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    token = prompt[-1]
    for _ in range(n_decode):
        engine.push(token)
        token = int(engine.logits().argmax())
    return prefill, n_decode / (time.perf_counter() - t0)


def measure(models: list[Path], repeats: int, n_prompt: int = 512, n_decode: int = 64):
    rows = []
    for model in models:
        # the runtime probe's cost: a first load on a machine (a fresh verdict folder), then
        # every later one (the kept verdict); threads as the engine decodes on
        with tempfile.TemporaryDirectory() as verdicts:
            t0 = time.perf_counter()
            verdict = choose(model, threads=usable_cores(), probe_dir=Path(verdicts))
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            choose(model, threads=usable_cores(), probe_dir=Path(verdicts))
            cached = time.perf_counter() - t0
        # a layout the probe ruled out (it crashed, hung or computed other tokens) would take
        # this process down with it: it is named, not measured
        names = ("extra", "plain") if verdict.extra_buffers else ("plain",)
        layouts = {layout: LlamaCppLLM(model, n_ctx=2048, buffers=layout) for layout in names}
        for llm in layouts.values():
            llm.load()
        prompt = layouts["plain"].engine.tokenize(PREFILL_TEXT)[:n_prompt]
        runs: dict[str, list[tuple[float, float]]] = {k: [] for k in layouts}
        for _ in range(repeats):
            for layout, llm in layouts.items():
                runs[layout].append(_rates(llm, prompt, n_decode))
        if not verdict.extra_buffers:
            rows.append(
                {
                    "model": model.name,
                    "layout": "extra",
                    "buffers": verdict.buffers,
                    "prefill": None,
                    "decode": None,
                    "chosen": False,
                    "tokens": len(prompt),
                    "why": verdict.reason,
                    "probe_s": cold,
                    "cached_s": cached,
                }
            )
        for layout in layouts:
            rows.append(
                {
                    "model": model.name,
                    "layout": layout,
                    # the extra layout's buffers were read by the probe; the plain one's
                    # by a child of its own
                    "buffers": verdict.buffers if layout == "extra" else _buffers(model),
                    "prefill": statistics.median(r[0] for r in runs[layout]),
                    "decode": statistics.median(r[1] for r in runs[layout]),
                    "chosen": (layout == "extra") == verdict.extra_buffers,
                    "tokens": len(prompt),
                    "probe_s": cold,
                    "cached_s": cached,
                }
            )
        del layouts
    return rows


def table(rows: list[dict], repeats: int) -> list[str]:
    cpu, build = cpu_info(), llama_build()
    lines = [
        f"CPU: {cpu.model} ({' '.join(cpu.features)}); llama-cpp-python {build.version}, "
        f"`{build.system_info}`",
        "",
        "| model | weights in | prefill tok/s | decode tok/s | vs plain (prefill, decode) "
        "| docqa's choice |",
        "|---|---|---:|---:|---:|---|",
    ]
    plain = {r["model"]: r for r in rows if r["layout"] == "plain"}
    for r in rows:
        base = plain[r["model"]]
        where = ", ".join(f"{n} {m:g} MiB" for n, m in r["buffers"].items())
        label = "extra buffer types" if r["layout"] == "extra" else "plain buffers"
        if r["prefill"] is None:
            lines.append(f"| {r['model']} | {label}: {where} | not run: {r['why']} | | | |")
            continue
        lines.append(
            f"| {r['model']} | {label}: {where} | {r['prefill']:.0f} | {r['decode']:.1f} | "
            f"{r['prefill'] / base['prefill']:.2f}x, {r['decode'] / base['decode']:.2f}x | "
            f"{'yes' if r['chosen'] else ''} |"
        )
    lines += [
        "",
        f"Prefill of {rows[0]['tokens']} tokens of sample_docs/eiffel_tower.txt into an empty "
        f"context, then 64 greedy decode steps; median of {repeats} interleaved runs, each "
        "layout loaded once. \"docqa's choice\" is the runtime probe's verdict "
        "(docqa.adapters.llama_runtime) for this CPU and build. Where no extra buffer type "
        "takes a model's weights both rows load the same layout: their spread is the noise.",
        "",
        "| model | runtime probe, first load on a machine (s) | later loads, kept verdict (ms) |",
        "|---|---:|---:|",
    ]
    for model, r in plain.items():
        lines.append(f"| {model} | {r['probe_s']:.2f} | {1000 * r['cached_s']:.1f} |")
    lines += [
        "",
        "The first load runs one child (no extra buffer type takes the weights) or two (one "
        "does); later loads read the verdict (in a process that has imported llama_cpp, as "
        "every load has).",
    ]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", type=Path, action="append", default=[])
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    bundled = resolve_model_path(Settings(home=Path(tempfile.gettempdir())))
    with tempfile.TemporaryDirectory() as tmp:
        models = [bundled, requantized(bundled, Path(tmp)), *args.model]
        text = "\n".join(table(measure(models, args.repeats), args.repeats))
    print(text)
    if args.write:
        from bench.results import write_section

        write_section("bench/layouts.py", "Weight layouts: extra buffer types or plain", text)


if __name__ == "__main__":
    main()
