"""The child side of the llama.cpp runtime probe: load one GGUF with or without llama.cpp's
extra buffer types, evaluate a fixed text, and print what came out as one JSON line.

Run as `python -m docqa.adapters.llama_probe MODEL extra|plain THREADS` by
docqa.adapters.llama_runtime, in its own process, so that a crash in llama.cpp's kernels (a
segfault in the AMX matrix code, say) kills this child and not the question being answered.
It evaluates a batch of tokens (the matrix-matrix kernels a prefill uses) and then single
tokens (the matrix-vector kernels of decoding), and reports each position's top tokens.
"""

from __future__ import annotations

import json
import sys

# A fixed English text: the same tokens reach both buffer layouts, so their logits can be
# compared position by position.
PROBE_TEXT = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. "
    "It is named after the engineer Gustave Eiffel, whose company designed and built the "
    "tower from 1887 to 1889. Locally nicknamed the Iron Lady, it was constructed as the "
    "centrepiece of the 1889 World's Fair, and to crown the centennial anniversary of the "
    "French Revolution."
)
BATCH = 48  # tokens evaluated at once: the prefill's matrix-matrix path
SINGLES = 4  # then one at a time: the decoder's matrix-vector path
TOP = 5


def run(model: str, mode: str, threads: int) -> dict:
    import llama_cpp
    import numpy as np
    from llama_cpp import Llama

    from docqa.adapters.llama_runtime import model_params

    with model_params(extra_buffers=mode == "extra"):
        llm = Llama(
            model_path=model,
            n_ctx=256,
            n_batch=BATCH,
            n_threads=threads,
            n_threads_batch=threads,
            seed=0,
            verbose=True,  # the load log names the buffer types (read from stderr)
        )
    tokens = llm.tokenize(PROBE_TEXT.encode(), add_bos=True)[: BATCH + SINGLES]
    if len(tokens) < BATCH + SINGLES:
        raise SystemExit(f"the probe text is only {len(tokens)} tokens in this vocabulary")
    positions = []

    def record():
        ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),))
        top = np.argsort(-logits)[:TOP]
        positions.append(
            {
                "finite": bool(np.isfinite(logits).all()),
                "top": [int(t) for t in top],
                "logits": [float(logits[t]) for t in top],
            }
        )

    llm.eval(tokens[:BATCH])
    record()
    for token in tokens[BATCH:]:
        llm.eval([token])
        record()
    return {"mode": mode, "positions": positions}


def main(argv: list[str]) -> int:
    model, mode, threads = argv[0], argv[1], int(argv[2])
    result = run(model, mode, threads)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
