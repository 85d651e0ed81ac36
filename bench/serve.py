"""The model tier on loopback: throughput of N llama-cpp-python servers behind a client-side
round-robin balancer, and what the server's prefix cache saves.

    python bench/serve.py [--requests 24] [--write]

Each configuration starts its servers (`python -m llama_cpp.server`, the bundled SmolLM2),
splits this machine's cores between them, and sends the same requests: the prompt docqa's
qa template renders for a sample question (about 1,300 tokens of sources) with a different
question each time, 32 tokens generated. Clients run 2 per server, each server taking one
request at a time (llama-cpp-python serves one at a time). The prefix table sends one prompt,
then the same sources with another question, to one server.
--write puts the tables into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from itertools import cycle
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import write_section  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "sample_docs"
SOURCES = [DOCS / "eiffel_tower.txt", DOCS / "history" / "panama_canal.txt"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(model: Path, threads: int | None, log) -> tuple[subprocess.Popen, str]:
    """llama-cpp-python's server (through docqa.adapters.llama_server, which lays the weights
    out as docqa's runtime probe decided for this CPU) serving `model` on a free loopback port
    (threads: None leaves llama-cpp-python's default), once it accepts connections; its output
    goes to `log`. RuntimeError, with the end of the log when it is a file, if it does not
    start."""
    port = free_port()
    command = [sys.executable, "-m", "docqa.adapters.llama_server", "--model", str(model)]
    command += ["--n_ctx", "4096", "--host", "127.0.0.1", "--port", str(port)]
    if threads is not None:
        command += ["--n_threads", str(threads), "--n_threads_batch", str(threads)]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    wait_until_up(proc, lambda: _accepts(port), "llama_cpp.server", log, seconds=120)
    return proc, f"http://127.0.0.1:{port}"


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_until_up(proc: subprocess.Popen, up, name: str, log, seconds: float) -> None:
    """Wait until `up()` says the server `proc` is ready; kill it and raise RuntimeError, with
    the end of its log when that is a file, if it dies or is not up in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if up():
            return
        time.sleep(0.5)
    proc.kill()
    tail = ""
    if hasattr(log, "seek"):
        log.seek(0)
        tail = log.read()[-2000:]
    raise RuntimeError(f"{name} did not start:\n{tail}")


def prompt(question: str, doc: int = 0) -> str:
    text = SOURCES[doc].read_text()[:5200]
    return (
        "<|im_start|>system\nAnswer from the sources only.<|im_end|>\n<|im_start|>user\n"
        f"Sources:\n{text}\n\nQuestion: {question}<|im_end|>\n<|im_start|>assistant\n"
    )


def complete(url: str, text: str, max_tokens: int = 32) -> tuple[float, int]:
    from openai import OpenAI

    client = OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=600)
    begun = time.perf_counter()
    r = client.completions.create(
        model="m", prompt=text, max_tokens=max_tokens, temperature=0,
        extra_body={"repeat_penalty": 1.0},
    )  # fmt: skip
    return time.perf_counter() - begun, r.usage.completion_tokens


def throughput(urls: list[str], n_requests: int, balancer: str) -> dict:
    """n_requests over the servers, 2 clients per server. Each request's sources are one of
    two documents, in a fixed random order; "round-robin" sends requests to the servers in
    turn, "affinity" sends requests with the same sources to the same server."""
    rng = random.Random(1)
    work = []
    for i, url in zip(range(n_requests), cycle(urls), strict=False):
        doc = rng.randrange(len(SOURCES))
        if balancer == "affinity":
            url = urls[doc % len(urls)]
        work.append((url, prompt(f"What happened in year {1880 + i} in the sources?", doc)))
    work.reverse()
    lock, latencies, tokens = threading.Lock(), [], []

    def client() -> None:
        while True:
            with lock:
                if not work:
                    return
                url, text = work.pop()
            seconds, n = complete(url, text)
            with lock:
                latencies.append(seconds)
                tokens.append(n)

    begun = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(2 * len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - begun
    return {
        "req_s": n_requests / wall,
        "tok_s": sum(tokens) / wall,
        "p50": statistics.median(latencies),
        "max": max(latencies),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=24)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    from docqa.components import resolve_model_path
    from docqa.config import load_settings

    model = resolve_model_path(load_settings(home=Path(tempfile.mkdtemp())))
    cores = len(os.sched_getaffinity(0))
    log = open(os.devnull, "w")  # noqa: SIM115
    rows = []
    configs = [(1, "round-robin"), (2, "round-robin"), (2, "affinity")]
    for n, balancer in configs:
        threads = max(1, cores // n)
        servers = [start(model, threads, log) for _ in range(n)]
        try:
            complete(servers[0][1], "warm up", 1)
            result = throughput([u for _, u in servers], args.requests, balancer)
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait()
        rows.append((n, threads, balancer, result))
        print(n, threads, balancer, result, flush=True)

    proc, url = start(model, cores, log)
    try:
        complete(url, "warm up", 1)
        cold = complete(url, prompt("When was the tower inaugurated?"), 1)[0]
        warm = complete(url, prompt("Who designed the tower?"), 1)[0]
        other = complete(url, "<|im_start|>user\nUnrelated words.<|im_end|>\n", 1)[0]
        again = complete(url, prompt("How tall is the tower?"), 1)[0]
    finally:
        proc.terminate()
        proc.wait()

    base = rows[0][3]["req_s"]
    table = [
        "| servers | threads each | balancer | requests/s | tokens/s | vs first row "
        "| p50 latency | slowest |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for n, threads, balancer, r in rows:
        table.append(
            f"| {n} | {threads} | {balancer} | {r['req_s']:.3f} | {r['tok_s']:.1f} "
            f"| {r['req_s'] / base:.2f}x | {r['p50']:.2f} s | {r['max']:.2f} s |"
        )
    text = "\n".join(
        [
            f"{args.requests} requests of about 1,300 prompt tokens (the sources: one of two "
            f"documents, in a fixed random order, then a new question) and 32 generated tokens; "
            f"{cores} cores split between the servers; 2 clients per server.",
            "",
            *table,
            "",
            "The server's prefix cache (llama-cpp-python keeps the last prompt's KV state), time "
            "to one token:",
            "",
            "| request | seconds |",
            "|---|---:|",
            f"| sources + question A (new) | {cold:.2f} |",
            f"| same sources + question B | {warm:.2f} ({cold / warm:.1f}x faster) |",
            f"| an unrelated prompt in between | {other:.2f} |",
            f"| same sources + question C (after it) | {again:.2f} |",
        ]
    )
    print(text)
    if args.write:
        write_section("bench/serve.py", "Model servers on loopback", text)


if __name__ == "__main__":
    main()
