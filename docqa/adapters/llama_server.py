"""llama-cpp-python's OpenAI-compatible server, with the model's weights laid out as docqa's
runtime probe decided for this CPU (docqa.adapters.llama_runtime): on a machine where llama.cpp's
extra buffer types crash, `python -m llama_cpp.server` dies in its first request, this does not.

    python -m docqa.adapters.llama_server --model FILE.gguf [llama_cpp.server's options]

`llm_buffers` (docqa.toml or DOCQA_LLM_BUFFERS) is honoured as it is by `docqa ask`.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str]) -> None:
    from docqa.adapters.llama_engine import usable_cores
    from docqa.adapters.llama_runtime import choose, model_params
    from docqa.config import load_settings

    model = _option(argv, "--model")
    if model is None:
        raise SystemExit("usage: python -m docqa.adapters.llama_server --model FILE.gguf ...")
    # the server's own default is half the cores (llama_cpp.server.settings)
    threads = int(_option(argv, "--n_threads") or 0) or max(usable_cores() // 2, 1)
    choice = choose(Path(model), setting=load_settings().llm_buffers, threads=threads)
    print(f"docqa: weights in {choice.path}: {choice.reason}", file=sys.stderr, flush=True)
    from llama_cpp.server.__main__ import main as serve

    sys.argv = ["llama_cpp.server", *argv]
    with model_params(extra_buffers=choice.extra_buffers):
        serve()


if __name__ == "__main__":
    main(sys.argv[1:])
