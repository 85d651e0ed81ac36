"""The llama.cpp runtime probe: the weight layout (extra buffer types or plain) is chosen in
child processes, so a kernel that crashes (llama.cpp's AMX matrix code built by GCC 12) costs a
child, never a question; the verdict is kept per model, CPU and build, and doctor shows it.

Children that crash, hang or compute other tokens are scripted (the machine running the tests
may have no AMX); the real child runs on the real bundled model where marked."""

from __future__ import annotations

import json
import signal
import sys
import textwrap
from pathlib import Path

import pytest

from docqa.adapters import llama_runtime
from docqa.adapters.llama_runtime import RuntimeChoice, choose, first_disagreement, probe
from docqa.errors import ModelError
from tests.conftest import READER

REFERENCE = [
    {"finite": True, "top": [40, 41, 39, 33, 34], "logits": [32.7, 32.6, 22.6, 21.7, 21.1]}
]
AMX_LOG = "load_tensors:          AMX model buffer size =    70.00 MiB\\n"
MAPPED_LOG = "load_tensors:   CPU_Mapped model buffer size =    92.10 MiB\\n"


def script(behaviour: str, positions=REFERENCE, log: str = AMX_LOG + MAPPED_LOG) -> list[str]:
    """A child that behaves as told: ok (prints `positions`), crash, hang, fail."""
    body = {
        "ok": f"print(json.dumps({{'mode': 'x', 'positions': {positions!r}}}))",
        "crash": "os.kill(os.getpid(), signal.SIGSEGV)",
        "hang": "time.sleep(60)",
        "fail": "sys.stderr.write('ValueError: Failed to load model from file\\n'); sys.exit(1)",
    }[behaviour]
    code = f"""
        import json, os, signal, sys, time
        sys.stderr.write("{log}")
        sys.stderr.flush()
        {body}
    """
    return [sys.executable, "-c", textwrap.dedent(code)]


@pytest.fixture
def children(monkeypatch):
    """Script the two children: children(extra=..., plain=...), each a command or "real"."""

    def set_children(extra, plain):
        real = llama_runtime.child_command

        def command(model, mode, threads):
            chosen = extra if mode == "extra" else plain
            return real(model, mode, threads) if chosen == "real" else chosen

        monkeypatch.setattr(llama_runtime, "child_command", command)

    return set_children


@pytest.fixture
def model_file(tmp_path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + bytes(64))
    return path


def test_a_crash_with_extra_buffers_chooses_plain_and_says_why(children, model_file):
    children(extra=script("crash"), plain=script("ok", log=MAPPED_LOG))
    choice = probe(model_file, threads=2)
    assert choice.extra_buffers is False
    assert choice.source == "probe"
    assert choice.reason == (
        "with llama.cpp's extra buffer types (AMX 70 MiB, CPU_Mapped 92.1 MiB) the probe died "
        "with SIGSEGV; plain buffers work"
    )
    assert choice.buffers == {"AMX": 70.0, "CPU_Mapped": 92.1}


def test_other_tokens_with_extra_buffers_choose_plain(children, model_file):
    garbage = [{"finite": True, "top": [7, 8, 9, 10, 11], "logits": [5.0, 4.0, 3.0, 2.0, 1.0]}]
    children(extra=script("ok", positions=garbage), plain=script("ok", log=MAPPED_LOG))
    choice = probe(model_file, threads=2)
    assert choice.extra_buffers is False
    assert choice.reason.endswith(
        "gave other tokens than plain buffers (position 0: token 7 instead of 40)"
    )


def test_same_tokens_with_extra_buffers_keep_them(children, model_file):
    children(extra=script("ok"), plain=script("ok", log=MAPPED_LOG))
    choice = probe(model_file, threads=2)
    assert choice.extra_buffers is True
    assert choice.reason == (
        "extra buffer types (AMX 70 MiB, CPU_Mapped 92.1 MiB) give the same tokens as plain buffers"
    )


def test_no_extra_buffer_in_use_needs_no_second_child(children, model_file):
    children(extra=script("ok", log=MAPPED_LOG), plain=script("crash"))  # never run
    choice = probe(model_file, threads=2)
    assert choice.extra_buffers is True
    assert choice.reason.startswith("no extra buffer type takes this model's weights")


def test_a_hung_child_counts_as_a_failure(children, model_file, monkeypatch):
    monkeypatch.setattr(llama_runtime, "PROBE_TIMEOUT", 1.0)
    children(extra=script("hang"), plain=script("ok", log=MAPPED_LOG))
    choice = probe(model_file, threads=2)
    assert choice.extra_buffers is False
    assert "hung (no result in 1 s)" in choice.reason


def test_crashes_either_way_are_a_clear_model_error(children, model_file):
    children(extra=script("crash"), plain=script("crash"))
    with pytest.raises(ModelError) as caught:
        probe(model_file, threads=2)
    message = str(caught.value)
    assert "llama.cpp crashes on this CPU" in message
    assert (
        "with extra buffer types it died with SIGSEGV, with plain buffers it died with SIGSEGV"
        in message
    )


def test_a_model_that_does_not_load_is_left_to_the_real_load(children, model_file, tmp_path):
    children(extra=script("fail"), plain=script("fail"))
    choice = choose(model_file, threads=2, probe_dir=tmp_path / "probes")
    assert choice.source == "unprobed"
    assert "Failed to load model" in choice.reason
    assert not (tmp_path / "probes").exists()  # nothing kept: the next load probes again


def test_the_verdict_is_kept_per_model_cpu_build_and_threads(children, model_file, tmp_path):
    folder = tmp_path / "probes"
    children(extra=script("crash"), plain=script("ok", log=MAPPED_LOG))
    first = choose(model_file, threads=2, probe_dir=folder)
    assert first.source == "probe"
    children(extra=script("ok"), plain=script("ok"))  # would now say "extra": not asked
    again = choose(model_file, threads=2, probe_dir=folder)
    assert again.source == "cached probe"
    assert (again.extra_buffers, again.reason) == (first.extra_buffers, first.reason)
    other_threads = choose(model_file, threads=1, probe_dir=folder)
    assert other_threads.source == "probe" and other_threads.extra_buffers is True
    model_file.write_bytes(b"GGUF" + bytes(65))  # another file: probed again
    assert choose(model_file, threads=2, probe_dir=folder).source == "probe"
    assert len(list(folder.glob("*.json"))) == 3


def test_a_setting_overrides_the_probe(children, model_file):
    children(extra=script("crash"), plain=script("crash"))
    assert choose(model_file, setting="extra", threads=2) == RuntimeChoice(
        True, "set by llm_buffers", "setting"
    )
    assert choose(model_file, setting="plain", threads=2).extra_buffers is False


def test_near_ties_are_not_disagreements():
    ref = [{"finite": True, "top": [1, 2, 3], "logits": [10.0, 9.8, 5.0]}]
    assert (
        first_disagreement(ref, [{"finite": True, "top": [2, 1, 3], "logits": [9.9, 9.9, 5]}])
        is None
    )
    far = [{"finite": True, "top": [3, 1, 2], "logits": [9.0, 8.0, 7.0]}]
    assert first_disagreement(ref, far) == "position 0: token 3 instead of 1"
    nan = [{"finite": False, "top": [1, 2, 3], "logits": [10.0, 9.8, 5.0]}]
    assert first_disagreement(ref, nan) == "non-finite logits at position 0"


def test_the_load_log_names_the_buffer_types():
    log = (
        "load_tensors:   CPU_Mapped model buffer size =    85.30 MiB\n"
        "load_tensors:   CPU_REPACK model buffer size =    56.95 MiB\n"
        "llama_kv_cache:        CPU KV buffer size =     5.62 MiB\n"
    )
    assert llama_runtime.buffers_from_log(log) == {"CPU_Mapped": 85.3, "CPU_REPACK": 56.95}


def test_doctor_names_the_cpu_the_build_and_the_layout(
    children, fake_embedder, model_file, monkeypatch, tmp_path
):
    from docqa import components
    from tests.cli import invoke

    # the real local backend for a (scripted) GGUF file; the fake embedder for the store
    monkeypatch.setattr(
        components, "build", lambda s: components.Components(s, embedder=fake_embedder)
    )
    monkeypatch.setenv("DOCQA_MODEL", str(model_file))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    children(extra=script("crash"), plain=script("ok", log=MAPPED_LOG))
    result = invoke("doctor", "--json")
    report = json.loads(result.output)
    runtime = report["runtime"]
    cpu = llama_runtime.cpu_info()
    assert runtime["cpu"] == {"model": cpu.model, "features": list(cpu.features)}
    assert runtime["llama_cpp"]["version"] == llama_runtime.llama_build().version
    assert runtime["llama_cpp"]["system_info"].startswith("CPU :")
    assert runtime["weights"]["path"] == "plain buffers"
    assert runtime["weights"]["source"] == "probe"
    assert "died with SIGSEGV" in runtime["weights"]["reason"]
    assert {"name": "model runtime", "ok": True, "problems": [], "repaired": []} in report["checks"]
    text = invoke("doctor").output
    assert "weights: plain buffers (cached probe)" in text
    assert f"cpu: {cpu.model}" in text
    assert f"model: {model_file}" in text


# -- the real child, on the real model -----------------------------------------------------


@pytest.mark.models
def test_the_real_probe_on_the_bundled_model(tmp_path):
    from docqa.config import Settings, resolve_model_path

    path = resolve_model_path(Settings(home=tmp_path, model=READER))
    choice = choose(path, threads=2, probe_dir=tmp_path)
    assert choice.source == "probe"
    assert choice.buffers  # the load log was read
    assert set(choice.buffers) & {"CPU", "CPU_Mapped", "CPU_REPACK", "AMX"}
    # this file's Q4_1 weights go to the AMX buffer where llama.cpp was built with AMX;
    # no repack kernel takes Q4_1
    if "AMX_INT8 = 1" not in llama_runtime.llama_build().system_info:
        assert choice.extra_buffers is True
        assert choice.reason.startswith("no extra buffer type takes")


@pytest.mark.models
def test_repacked_weights_are_compared_with_plain_ones_for_real(tmp_path):
    """A Q4_0 copy of the bundled model: CPU_REPACK takes it on AVX2 machines, and the
    probe's two real children agree on its tokens."""
    from bench.layouts import requantized
    from docqa.config import Settings, resolve_model_path

    q4_0 = requantized(resolve_model_path(Settings(home=tmp_path, model=READER)), tmp_path)
    choice = probe(q4_0, threads=2)
    if "avx2" in llama_runtime.cpu_info().features:
        assert "CPU_REPACK" in choice.buffers or "AMX" in choice.buffers
    if "AMX_INT8 = 1" not in llama_runtime.llama_build().system_info:
        assert choice.extra_buffers is True, choice.reason
        assert choice.reason.endswith("give the same tokens as plain buffers")


@pytest.mark.models
def test_a_model_is_loaded_plain_where_the_extra_child_crashed(children, tmp_path, monkeypatch):
    """The whole path: probe (crash scripted), then the real load with use_extra_bufts off,
    then a real answer."""
    from docqa.adapters.llama import LlamaCppLLM
    from docqa.config import Settings, resolve_model_path
    from docqa.guide.slots import make_slot

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    children(extra=script("crash"), plain="real")
    llm = LlamaCppLLM(resolve_model_path(Settings(home=tmp_path, model=READER)), n_ctx=1024)
    llm.load()
    assert llm.engine.runtime.extra_buffers is False
    assert llm.engine.llm.model_params.use_extra_bufts is False
    prompt = "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"
    fill = llm.fill(prompt, make_slot("x", choices=["red", "green", "blue"]))
    assert fill.text in ("red", "green", "blue")
    # and the patch is undone: the next default load uses llama.cpp's defaults again
    import llama_cpp

    assert llama_cpp.llama_model_default_params().use_extra_bufts is True


@pytest.mark.models
def test_ask_answers_where_extra_buffers_crash(children, tmp_path, monkeypatch, docs):
    """`docqa ask` end to end with real models on a machine where the extra child dies."""
    from tests.cli import invoke

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    children(extra=script("crash"), plain="real")
    assert invoke("ingest", docs).exit_code == 0
    result = invoke("ask", "Who designed the Eiffel Tower?", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["status"] in ("grounded", "partially_grounded", "unanswerable")
    doctor = json.loads(invoke("doctor", "--json").output)
    assert doctor["runtime"]["weights"]["path"] == "plain buffers"
    assert doctor["runtime"]["weights"]["source"] == "cached probe"


def test_signal_names_read_as_people_know_them():
    assert llama_runtime._signal_name(signal.SIGSEGV) == "SIGSEGV"
    assert llama_runtime._signal_name(200) == "signal 200"


def test_the_layout_bench_names_a_layout_it_must_not_run():
    """On a machine where the probe ruled the extra buffer types out, bench/layouts.py does
    not load them (that would crash the bench): the table says why instead."""
    from bench.layouts import table

    plain = {"model": "m.gguf", "layout": "plain", "buffers": {"CPU_Mapped": 92.1}}
    rows = [
        {**plain, "layout": "extra", "buffers": {"AMX": 70.0}, "prefill": None,
         "decode": None, "chosen": False, "tokens": 512, "why": "it died with SIGSEGV"},
        {**plain, "prefill": 180.0, "decode": 60.0, "chosen": True, "tokens": 512,
         "probe_s": 1.25, "cached_s": 0.0031},
    ]  # fmt: skip
    lines = table(rows, repeats=3)
    assert (
        "| m.gguf | extra buffer types: AMX 70 MiB | not run: it died with SIGSEGV | | | |" in lines
    )
    assert (
        "| m.gguf | plain buffers: CPU_Mapped 92.1 MiB | 180 | 60.0 | 1.00x, 1.00x | yes |" in lines
    )
