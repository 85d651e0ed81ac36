"""llama.cpp's own `llama-server`, built from the llama.cpp sources that ship inside
llama-cpp-python's source distribution (the same llama.cpp docqa runs in-process), and started
on loopback for the parity tests and benches.

    python bench/llama_server.py          # build it (once; cached), print its path

It is built with the CPU kernels of the llama.cpp library that llama-cpp-python loads here
(read from its system info: AVX2, AVX-512, VNNI, ...), so the server computes what docqa's
local model computes, and is started with the weight layout docqa's runtime probe chose for
this CPU (docqa.adapters.llama_runtime). The build, one static binary, is cached in
~/.cache/docqa/llama-server/<llama-cpp-python version>-<kernels>/ (or under
$DOCQA_LLAMA_SERVER_CACHE): only the first run on a machine pays for it (about 8 minutes on 2
cores). $DOCQA_LLAMA_SERVER names a llama-server binary to use instead.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

PACKAGE = "llama-cpp-python"
CMAKE_OPTIONS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",  # one binary to cache, with no libraries to find at run time
    "-DGGML_NATIVE=OFF",  # the kernels are named (kernel_options), as the local library's
    "-DLLAMA_CURL=OFF",  # nothing is fetched at run time
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
]


# llama.cpp's system-info names of x86 kernels -> the CMake options that build them
KERNELS = {
    "AVX": "GGML_AVX",
    "AVX2": "GGML_AVX2",
    "F16C": "GGML_F16C",
    "FMA": "GGML_FMA",
    "BMI2": "GGML_BMI2",
    "AVX_VNNI": "GGML_AVX_VNNI",
    "AVX512": "GGML_AVX512",
    "AVX512_VBMI": "GGML_AVX512_VBMI",
    "AVX512_VNNI": "GGML_AVX512_VNNI",
    "AVX512_BF16": "GGML_AVX512_BF16",
    "AMX_INT8": "GGML_AMX_INT8",
    "AMX_BF16": "GGML_AMX_BF16",
}


def local_kernels() -> list[str]:
    """The x86 kernels the llama.cpp library of llama-cpp-python was built with."""
    import re

    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    return [name for name in re.findall(r"(\w+) = 1", info) if name in KERNELS]


def kernel_options(kernels: list[str]) -> list[str]:
    return [f"-D{option}={'ON' if name in kernels else 'OFF'}" for name, option in KERNELS.items()]


def cache_dir() -> Path:
    base = os.environ.get("DOCQA_LLAMA_SERVER_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "docqa" / "llama-server"
    kernels = "-".join(k.lower() for k in local_kernels()) or "generic"
    return root / f"{version(PACKAGE)}-{kernels}"


def binary(log=None) -> Path:
    """The llama-server binary: $DOCQA_LLAMA_SERVER, the cached build, or a new build (under
    a lock, so concurrent test processes build it once). RuntimeError says what failed."""
    given = os.environ.get("DOCQA_LLAMA_SERVER")
    if given:
        return Path(given)
    target = cache_dir() / "llama-server"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            _build(target, log or sys.stderr)
    return target


def _build(target: Path, log) -> None:
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"building llama-server needs {tool} on PATH")
    with tempfile.TemporaryDirectory(prefix="llama-server-") as tmp:
        work = Path(tmp)
        wanted = f"{PACKAGE}=={version(PACKAGE)}"
        print(f"llama-server: fetching the source distribution of {wanted}", file=log, flush=True)
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                wanted,
                "-d",
                str(work),
            ],  # fmt: skip
            log,
        )
        [sdist] = work.glob("*.tar.gz")
        with tarfile.open(sdist) as archive:
            archive.extractall(work, filter="data")
        [source] = work.glob("*/vendor/llama.cpp")
        build = work / "build"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        print(f"llama-server: building from {source.relative_to(work)}", file=log, flush=True)
        options = [*CMAKE_OPTIONS, *kernel_options(local_kernels())]
        _run(["cmake", "-S", str(source), "-B", str(build), *generator, *options], log)
        jobs = str(len(os.sched_getaffinity(0)))
        _run(["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs], log)
        built = build / "bin" / "llama-server"
        partial = target.with_suffix(".partial")
        shutil.copy2(built, partial)
        partial.replace(target)  # whole or absent, never half-written


def _run(command: list[str], log) -> None:
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed:\n{result.stdout[-3000:]}")
    print(result.stdout[-400:], file=log, flush=True)


def start(
    model: Path, threads: int | None, log, cache_prompt: bool = True
) -> tuple[subprocess.Popen, str]:
    """llama-server serving `model` on a free loopback port, once it answers /health; its
    output goes to `log`. RuntimeError, with the end of the log, if it does not come up.

    cache_prompt=False turns its prompt cache off: a prefix it reuses was evaluated in
    other batches than a fresh prompt would be, so its logits are not bit for bit those of
    a fresh evaluation (llama.cpp says so of cache_prompt), and greedy text can then differ
    in a word from docqa's local model; without the cache they agree."""
    from bench.serve import free_port, wait_until_up
    from docqa.adapters.llama_engine import usable_cores
    from docqa.adapters.llama_runtime import choose
    from docqa.config import load_settings

    port = free_port()
    command = [str(binary()), "-m", str(model), "--host", "127.0.0.1", "--port", str(port)]
    # as docqa's local model runs: one sequence, no flash attention (llama-cpp-python's
    # default; llama-server's `auto` turns it on, and its sums round differently)
    command += ["-c", "4096", "-np", "1", "-fa", "off", "--no-webui"]
    layout = choose(model, setting=load_settings().llm_buffers, threads=threads or usable_cores())
    if not layout.extra_buffers:  # the layout docqa's probe found safe on this CPU
        command.append("--no-repack")
    if not cache_prompt:
        command.append("--no-cache-prompt")
    if threads is not None:
        command += ["-t", str(threads)]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    wait_until_up(proc, lambda: _healthy(port), "llama-server", log, seconds=180)
    return proc, f"http://127.0.0.1:{port}"


def _healthy(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return b" 200 " in s.recv(64)
    except OSError:
        return False


if __name__ == "__main__":
    started = time.perf_counter()
    path = binary()
    print(f"{path} ({time.perf_counter() - started:.0f} s)")
