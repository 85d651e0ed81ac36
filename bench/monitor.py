"""The monitoring report's drift test: docqa's MMD permutation test (all splits scored with
indicator vectors and one matrix product) against computing each split's MMD² from copied
kernel blocks, as it was before. Same statistic and p-value; the time is what changed.

    python bench/monitor.py [--n 300] [--permutations 500] [--write]

Vectors are random unit vectors of MiniLM's 384 dimensions, n per window, the current window
shifted a little. --write puts the table into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import write_section  # noqa: E402
from docqa.monitor import stats  # noqa: E402


def by_blocks(x: np.ndarray, y: np.ndarray, permutations: int, seed: int = 0):
    """The permutation test as docqa computed it before: kernel blocks copied per split."""
    z = np.vstack([x, y])
    d = stats._sq_dists(z, z)
    k = np.exp(-d / (float(np.median(d[np.triu_indices(len(z), 1)])) or 1.0))

    def mmd2(idx):
        a, b = idx[: len(x)], idx[len(x) :]
        kxx, kyy = k[np.ix_(a, a)], k[np.ix_(b, b)]
        return (
            (kxx.sum() - np.trace(kxx)) / (len(a) * (len(a) - 1))
            + (kyy.sum() - np.trace(kyy)) / (len(b) * (len(b) - 1))
            - 2 * k[np.ix_(a, b)].mean()
        )

    rng = np.random.default_rng(seed)
    observed = mmd2(np.arange(len(z)))
    null = np.array([mmd2(rng.permutation(len(z))) for _ in range(permutations)])
    return observed, (1 + int(np.sum(null >= observed))) / (permutations + 1)


def timed(fn, *args) -> tuple[float, tuple]:
    best, result = float("inf"), None
    for _ in range(3):
        begun = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - begun)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--permutations", type=int, default=500)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    x = unit(rng.standard_normal((args.n, 384)))
    y = unit(rng.standard_normal((args.n, 384)) + 0.05)
    old_s, (old_stat, old_p) = timed(by_blocks, x, y, args.permutations)
    new_s, (new_stat, new_p) = timed(stats.mmd_permutation, x, y, args.permutations)
    text = "\n".join(
        [
            f"{args.n} + {args.n} questions (384-d), {args.permutations} permutations; best of 3.",
            "",
            "| MMD permutation test | seconds | MMD² | p |",
            "|---|---:|---:|---:|",
            f"| kernel blocks per split (before) | {old_s:.3f} | {old_stat:.6g} | {old_p:.4f} |",
            f"| indicator vectors, one product (docqa) | {new_s:.3f} | {new_stat:.6g} "
            f"| {new_p:.4f} |",
            "",
            f"Speed-up: **{old_s / new_s:.1f}x**, same statistic (difference "
            f"{abs(old_stat - new_stat):.1e}) and p.",
        ]
    )
    print(text)
    if args.write:
        write_section("bench/monitor.py", "Monitoring: the drift test", text)


if __name__ == "__main__":
    main()
