"""Which weight layout llama.cpp may use on this machine, decided once per model file, CPU and
llama.cpp build, in a child process, so that a kernel that crashes never takes a question down.

llama.cpp moves a model's weights into "extra buffer types" when the CPU has kernels for them:
AMX tiles on Intel CPUs with AMX, and rows repacked for AVX2/AVX-512/NEON (CPU_REPACK). They
are llama.cpp's default and usually its fastest path, but a llama.cpp built with GCC 12 on an
AMX machine loads an empty AMX tile configuration (the compiler drops the stores that fill it)
and dies in the first prefill, in ggml_backend_amx_mul_mat. So before a model is first loaded,
a child process evaluates a fixed text with the extra buffer types; when it used any, a second
child evaluates it with plain buffers. A child that dies, hangs or picks other tokens rules the
extra buffer types out. `docqa doctor` shows the verdict and why.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from docqa.errors import ModelError

BUFFER_CHOICES = ("auto", "extra", "plain")
PLAIN_BUFFERS = ("CPU", "CPU_Mapped")  # the weights as stored in the file
# the CPU features llama.cpp's kernels are chosen by, as /proc/cpuinfo names them
FEATURES = (
    "sse4_2", "avx", "f16c", "fma", "avx2", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
    "avx512_vbmi", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16",
    "asimd", "sve",
)  # fmt: skip
PROBE_TIMEOUT = 300.0  # seconds a child may take to load a model and evaluate 52 tokens


@dataclass(frozen=True)
class CpuInfo:
    model: str
    features: tuple[str, ...]  # those of FEATURES this CPU has
    flags_digest: str  # of every flag, for cache keys


@dataclass(frozen=True)
class LlamaBuild:
    version: str  # llama-cpp-python's
    system_info: str  # llama.cpp's own line: what the build uses on this CPU
    library: str  # the shared library file, whose size and time identify the build


@dataclass(frozen=True)
class RuntimeChoice:
    """How a model's weights are laid out when docqa loads it, and why."""

    extra_buffers: bool
    reason: str
    source: str  # "probe", "cached probe", "setting"
    buffers: dict[str, float] = field(default_factory=dict)  # with extra types: name -> MiB
    probed_at: str | None = None

    @property
    def path(self) -> str:
        return "extra buffer types" if self.extra_buffers else "plain buffers"

    def as_json(self) -> dict:
        return {**asdict(self), "path": self.path}


@contextmanager
def model_params(*, extra_buffers: bool):
    """Make llama-cpp-python's Llama build its model parameters with `use_extra_bufts` set
    as asked (its constructor has no argument for it: it starts from llama.cpp's defaults)."""
    import llama_cpp.llama_cpp as low

    original = low.llama_model_default_params

    def defaults():
        params = original()
        params.use_extra_bufts = extra_buffers
        return params

    low.llama_model_default_params = defaults
    try:
        yield
    finally:
        low.llama_model_default_params = original


@cache
def cpu_info() -> CpuInfo:
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    digest = hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()[:16]
    return CpuInfo(model, tuple(f for f in FEATURES if f in flags), digest)


@cache
def llama_build() -> LlamaBuild:
    try:
        import llama_cpp
    except ImportError as exc:
        return LlamaBuild("not installed", f"llama-cpp-python cannot be imported: {exc}", "")

    info = llama_cpp.llama_print_system_info()
    info = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    lib = getattr(llama_cpp.llama_cpp, "_lib", None)
    return LlamaBuild(llama_cpp.__version__, " ".join(info.split()), getattr(lib, "_name", ""))


def default_probe_dir() -> Path:
    """Verdicts are about the machine, not about one store: they live in the user's cache."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("docqa", appauthor=False)) / "llama-runtime"


def probe_key(model: Path, threads: int) -> str:
    st = model.stat()
    cpu, build = cpu_info(), llama_build()
    parts = [str(model.resolve()), str(st.st_size), str(st.st_mtime_ns), str(threads)]
    parts += [cpu.model, cpu.flags_digest, build.version, build.system_info]
    for lib in _library_files(build.library):
        ls = lib.stat()
        parts += [lib.name, str(ls.st_size), str(ls.st_mtime_ns)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def _library_files(main: str) -> list[Path]:
    """llama.cpp's shared libraries (libllama and the ggml ones it loads)."""
    if not main:
        return []
    folder = Path(main).parent
    return sorted(p for p in folder.glob("lib*.so*") if p.is_file()) or [Path(main)]


def choose(
    model: Path,
    *,
    setting: str = "auto",
    threads: int,
    probe_dir: Path | None = None,
) -> RuntimeChoice:
    """The weight layout to load `model` with: as `setting` says, or ("auto") the probe's
    verdict, kept in `probe_dir` (default: the user's cache) for the next process."""
    if setting not in BUFFER_CHOICES:
        raise ModelError(f"llm_buffers must be one of {', '.join(BUFFER_CHOICES)}, not {setting!r}")
    if setting != "auto":
        return RuntimeChoice(setting == "extra", "set by llm_buffers", "setting")
    folder = probe_dir or default_probe_dir()
    path = folder / f"{probe_key(model, threads)}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        stored["source"] = "cached probe"
        return RuntimeChoice(**{k: stored[k] for k in RuntimeChoice.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        pass
    choice = probe(model, threads)
    if choice.source == "probe":  # a verdict, not a probe that could not run
        _save(path, choice)
    return choice


def _save(path: Path, choice: RuntimeChoice) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(choice)), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only means probing again next time


@dataclass(frozen=True)
class ChildResult:
    ok: bool
    positions: list[dict]
    buffers: dict[str, float]
    failure: str  # why it did not finish: "died with SIGSEGV", "hung for 300 s", ...


def child_command(model: Path, mode: str, threads: int) -> list[str]:
    return [sys.executable, "-m", "docqa.adapters.llama_probe", str(model), mode, str(threads)]


def run_child(model: Path, mode: str, threads: int, timeout: float | None = None) -> ChildResult:
    timeout = timeout or PROBE_TIMEOUT
    try:
        done = subprocess.run(
            child_command(model, mode, threads),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return ChildResult(False, [], {}, f"hung (no result in {timeout:.0f} s)")
    buffers = buffers_from_log(done.stderr)
    if done.returncode < 0:
        return ChildResult(False, [], buffers, f"died with {_signal_name(-done.returncode)}")
    if done.returncode != 0:
        last = [ln for ln in done.stderr.strip().splitlines() if ln.strip()][-1:] or ["?"]
        return ChildResult(False, [], buffers, f"failed (exit {done.returncode}: {last[0]})")
    try:
        positions = json.loads(done.stdout.strip().splitlines()[-1])["positions"]
    except (ValueError, KeyError, IndexError):
        return ChildResult(False, [], buffers, "printed no result")
    return ChildResult(True, positions, buffers, "")


def buffers_from_log(text: str) -> dict[str, float]:
    """The buffer types llama.cpp put the model's weights in (name -> MiB), from its log."""
    import re

    found: dict[str, float] = {}
    pattern = r"load_tensors:\s+(\S+) model buffer size\s*=\s*([\d.]+) MiB"
    for name, mib in re.findall(pattern, text):
        found[name] = round(found.get(name, 0.0) + float(mib), 2)
    return found


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _described(buffers: dict[str, float]) -> str:
    return ", ".join(f"{name} {mib:g} MiB" for name, mib in buffers.items()) or "none named"


def probe(model: Path, threads: int) -> RuntimeChoice:
    """Evaluate the probe text in children and decide (see the module's first lines)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    extra = run_child(model, "extra", threads)
    if extra.ok:
        used = {n: m for n, m in extra.buffers.items() if n not in PLAIN_BUFFERS}
        if not used:
            return RuntimeChoice(
                True,
                "no extra buffer type takes this model's weights on this CPU "
                f"({_described(extra.buffers)}): both layouts are the same",
                "probe",
                extra.buffers,
                now,
            )
    plain = run_child(model, "plain", threads)
    if not plain.ok:
        if extra.ok:  # only the plain layout fails: keep what works
            return RuntimeChoice(
                True, f"plain buffers {plain.failure}; extra buffers work", "probe",
                extra.buffers, now,
            )  # fmt: skip
        if extra.failure.startswith("died") or plain.failure.startswith("died"):
            raise ModelError(
                f"llama.cpp crashes on this CPU ({cpu_info().model}) with {model}: with extra "
                f"buffer types it {extra.failure}, with plain buffers it {plain.failure}. "
                "Try another model (--model), or a model server (--llm-url)"
            )
        # the model does not load at all (a broken file, say): loading it reports why
        return RuntimeChoice(True, f"the probe could not run: {extra.failure}", "unprobed")
    if not extra.ok:
        return RuntimeChoice(
            False,
            f"with llama.cpp's extra buffer types ({_described(extra.buffers)}) the probe "
            f"{extra.failure}; plain buffers work",
            "probe",
            extra.buffers,
            now,
        )
    differs = first_disagreement(plain.positions, extra.positions)
    if differs is not None:
        return RuntimeChoice(
            False,
            f"extra buffer types ({_described(extra.buffers)}) gave other tokens than plain "
            f"buffers ({differs})",
            "probe",
            extra.buffers,
            now,
        )
    return RuntimeChoice(
        True,
        f"extra buffer types ({_described(extra.buffers)}) give the same tokens as plain buffers",
        "probe",
        extra.buffers,
        now,
    )


def first_disagreement(reference: list[dict], other: list[dict], margin: float = 0.5) -> str | None:
    """Where `other`'s logits stop agreeing with `reference`'s, or None.

    A position agrees when both are finite and other's top token is reference's, or is among
    reference's top tokens within `margin` of its best logit (a near tie that rounding in
    another kernel may break either way). A kernel that computes garbage fails at once."""
    if len(reference) != len(other):
        return f"{len(other)} positions instead of {len(reference)}"
    for i, (ref, got) in enumerate(zip(reference, other, strict=True)):
        if not got["finite"]:
            return f"non-finite logits at position {i}"
        best = got["top"][0]
        if best == ref["top"][0]:
            continue
        if best in ref["top"]:
            gap = ref["logits"][0] - ref["logits"][ref["top"].index(best)]
            if gap <= margin:
                continue
        return f"position {i}: token {best} instead of {ref['top'][0]}"
    return None
