"""Local model vs the same model behind a server: how often the whole answer (every attempt of
the loop) is the same, by server, mode and grammar_forcing.

    python bench/parity.py [--questions 6] [--server llama-cpp-python|llama-server]... [--write]

Starts each server with the default reader (`python -m llama_cpp.server`; llama.cpp's
`llama-server`, built by bench/llama_server.py), ingests sample_docs, and asks the first N
answerable sample questions through `docqa ask --json`, once locally and once with --llm-url,
in generative mode under both grammar_forcing settings and in extractive mode. Answers are
compared without model names, timings and token counts. --write puts the table into
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import llama_server, serve  # noqa: E402
from bench.results import write_section  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def ask(home: Path, question: str, *args: str, forcing: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "docqa", "ask", question, "--json", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCQA_GRAMMAR_FORCING": forcing},
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    data = json.loads(result.stdout)
    kept = {k: data[k] for k in ("answer", "status", "citations")}
    kept["attempts"] = [
        {k: v for k, v in a.items() if k not in ("timings", "tokens", "seconds", "model")}
        for a in data["attempts"]
    ]
    return kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=6)
    ap.add_argument("--server", action="append", choices=["llama-cpp-python", "llama-server"])
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    servers = args.server or ["llama-cpp-python", "llama-server"]
    from docqa.components import resolve_model_path
    from docqa.config import load_settings

    home = Path(tempfile.mkdtemp())
    model = resolve_model_path(load_settings(home=home))
    questions = [
        q["question"]
        for q in json.loads((REPO / "tests" / "sample_questions.json").read_text())
        if q["answerable"]
    ][: args.questions]
    subprocess.run(
        [sys.executable, "-m", "docqa", "ingest", str(REPO / "sample_docs"), "--home", str(home)],
        check=True,
        capture_output=True,
    )
    rows = []
    locals_: dict[tuple[str, str, str], dict] = {}  # the local answers, asked once
    for kind in servers:
        start = serve.start if kind == "llama-cpp-python" else llama_server.start
        server, url = start(model, len(os.sched_getaffinity(0)), subprocess.DEVNULL)
        try:
            for label, mode, forcing in (
                ("generative", "generative", "canonical"),
                ("generative", "generative", "model"),
                ("extractive", "extractive", "canonical"),
            ):
                same = 0
                for q in questions:
                    key = (q, mode, forcing)
                    if key not in locals_:
                        locals_[key] = ask(home, q, "--mode", mode, forcing=forcing)
                    remote = ask(home, q, "--mode", mode, "--llm-url", url, forcing=forcing)
                    same += locals_[key] == remote
                    print(kind, label, forcing, locals_[key] == remote, q[:60], flush=True)
                    if locals_[key] != remote:  # where they part: each attempt's answer
                        for name, got in (("local", locals_[key]), (kind, remote)):
                            answers = [a["answer"] for a in got["attempts"]]
                            print(f"    {name}: {got['status']} {answers}", flush=True)
                rows.append(f"| {kind} | {label} | {forcing} | {same}/{len(questions)} |")
        finally:
            server.terminate()
            server.wait()
    text = "\n".join(
        [
            f"The first {len(questions)} answerable sample questions, `docqa ask --json` with the "
            f"default reader ({model.name}) locally and behind each server on loopback; the "
            "answer, status, citations and every attempt compared. llama-server is llama.cpp's "
            "own, built by bench/llama_server.py from the llama.cpp inside llama-cpp-python's "
            "source distribution with the CPU kernels of the library docqa loads, run without "
            "flash attention.",
            "",
            "| server | mode | grammar_forcing | identical answer JSON |",
            "|---|---|---|---:|",
            *rows,
        ]
    )
    print(text)
    if args.write:
        write_section("bench/parity.py", "Local model vs the same model behind a server", text)


if __name__ == "__main__":
    main()
