"""The remote backend against real servers serving the bundled model on loopback, started by
the tests: llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`) and
llama.cpp's `llama-server`, built from the llama.cpp sources inside llama-cpp-python's source
distribution (bench/llama_server.py; the build is cached, the first one takes minutes)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.cli import run_docqa as docqa
from tests.conftest import READER, SAMPLE_DOCS

pytestmark = pytest.mark.models

QUESTIONS = [
    "On what date was the Eiffel Tower inaugurated?",
    "In what year did Joseph Priestley find that a sprig of mint could restore air in which "
    "a candle had burned out?",
    "What was the name of the Apollo 11 command module?",
]


SERVERS = ("llama-cpp-python", "llama-server")


@pytest.fixture(scope="module", params=SERVERS)
def server(request, tmp_path_factory):
    """The URL of a server of each kind (tests that need to know which read `server_kind`)."""
    from bench import llama_server, serve
    from docqa.components import resolve_model_path
    from docqa.config import load_settings

    model = resolve_model_path(load_settings(home=tmp_path_factory.mktemp("h"), model=READER))
    log = open(tmp_path_factory.mktemp("log") / "server.log", "w+")  # noqa: SIM115
    start = serve.start if request.param == "llama-cpp-python" else llama_server.start
    try:
        proc, url = start(model, None, log)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def server_kind(request) -> str:
    return request.node.callspec.params["server"]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    docs = tmp_path_factory.mktemp("docs") / "d"
    shutil.copytree(SAMPLE_DOCS, docs)
    done = docqa(home, "ingest", docs, "--json")
    assert done.returncode == 0, done.stderr
    return home


def answer_json(result) -> dict:
    """What must agree between backends: everything but model names, timings and tokens."""
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    kept = {k: data[k] for k in ("question", "answer", "status", "citations")}
    kept["attempts"] = [
        {k: v for k, v in a.items() if k not in ("timings", "tokens", "seconds", "model")}
        for a in data["attempts"]
    ]
    return kept


@pytest.mark.parametrize("question", QUESTIONS)
def test_local_and_remote_give_the_same_answer_json(server, home, question):
    """Greedy, with the model spelling forced text itself (as llama.cpp's grammars make it):
    the whole answer loop, every attempt, agrees."""
    env = {"DOCQA_GRAMMAR_FORCING": "model"}
    local = answer_json(docqa(home, "ask", question, "--json", env=env))
    remote = answer_json(docqa(home, "ask", question, "--json", "--llm-url", server, env=env))
    assert remote == local


def test_extractive_answers_agree_with_canonical_forcing(server, home):
    """A choice among sentences is the same whichever way forced text is tokenized."""
    question = "Which aircraft carrier recovered the Apollo 11 crew after splashdown?"
    args = ("ask", question, "--json", "--template", "extractive")
    assert answer_json(docqa(home, *args, "--llm-url", server)) == answer_json(docqa(home, *args))


def test_every_constraint_holds_through_the_server(server, server_kind, home, tmp_path):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "pattern": "^[A-Z][a-z]+$"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    tpl = tmp_path / "t.j2"
    tpl.write_text(
        "{{ role('user') }}Name a European capital, then a year, then yes or no."
        "{{ role('assistant') }}{{ gen('place', schema=schema) }} "
        "{{ gen('year', regex='1[89][0-9]{2}') }} {{ select('ok', ['yes', 'no']) }}"
        "{{ gen('free', max_tokens=5, stop='.') }}{{ end_role() }}"
    )
    result = docqa(home, "run", tpl, "--var", f"schema:={json.dumps(schema)}", "--json",
                   "--llm-url", server)  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    slots = data["slots"]
    assert set(slots["place"]) == {"city"} and re.fullmatch("[A-Z][a-z]+", slots["place"]["city"])
    assert re.fullmatch("1[89][0-9]{2}", slots["year"])
    assert slots["ok"] in ("yes", "no")
    assert "." not in slots["free"]
    assert data["model"].endswith(f"@ {server}")
    fills = {f["name"]: f for f in data["fills"]}
    if server_kind == "llama-server":  # read from its `timings`: the prompt before the slot
        assert fills["free"]["cached_tokens"] >= fills["place"]["prompt_tokens"]
    else:  # llama-cpp-python does not report it
        assert fills["free"]["cached_tokens"] is None
    assert fills["year"]["healed"] == "" and fills["year"]["first_token_seconds"] is None


def test_llama_servers_prefix_cache_serves_a_repeated_question(server, server_kind, home):
    if server_kind != "llama-server":
        pytest.skip("llama-cpp-python's server does not say what it had cached")
    question = "What was the name of the Apollo 11 lunar module?"
    args = ("ask", question, "--json", "--max-attempts", "1", "--no-log", "--llm-url", server)
    first = json.loads(docqa(home, *args).stdout)
    again = json.loads(docqa(home, *args).stdout)
    assert again["answer"] == first["answer"]
    tokens = again["tokens"]
    # all of the prompt but the last few tokens comes from the server's cache
    assert tokens["cached"] >= tokens["prompt"] - 8, tokens


def test_a_server_that_is_down_is_a_clear_error(home):
    from bench.serve import free_port

    port = free_port()  # nothing listens there
    result = docqa(home, "ask", "Who built it?", "--llm-url", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"cannot reach the model server at http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_beam_search_is_refused_not_faked(server, home):
    result = docqa(home, "ask", "Who built it?", "--beams", "2", "--llm-url", server)
    assert result.returncode == 2
    assert "beam search (--beams) needs the local model" in result.stderr


def test_a_streamed_answer_is_the_answer_json(server, server_kind, home):
    """`ask --stream` through a server: llama-server streams the answer token by token,
    llama-cpp-python's server (no usage in its streams) gives it whole; the final line is the
    answer `--json` gives.

    Both servers reuse what they evaluated of earlier prompts, and a prefix evaluated in other
    batches is not bit for bit a fresh one (nor is the last prompt token evaluated alone): with
    the 135M reader, the same question asked after another request was answered differently
    (seen on an AMD EPYC). llama-server also keeps earlier prompts' states in memory
    (--cache-ram), so no request in between resets it. So the question is asked once first,
    with one attempt: both asks then find its whole prompt cached and start alike."""
    question = "What was the name of the Apollo 11 command module?"
    args = ("ask", question, "--no-log", "--max-attempts", "1", "--llm-url", server)
    assert docqa(home, *args, "--json").returncode == 0  # its prompt now cached
    streamed = docqa(home, *args, "--stream")
    assert streamed.returncode == 0, streamed.stderr
    lines = [json.loads(line) for line in streamed.stdout.splitlines()]
    final = dict(lines[-1])
    assert final.pop("event") == "final"
    plain = json.loads(docqa(home, *args, "--json").stdout)
    for key in ("answer", "status", "citations"):
        assert final[key] == plain[key]
    for attempt in final["attempts"]:
        n = attempt["attempt"]
        pieces = [e["text"] for e in lines if e["event"] == "token" and e["attempt"] == n]
        [verdict] = [e for e in lines if e["event"] == "verdict" and e["attempt"] == n]
        assert verdict["answer"] == attempt["answer"] and pieces  # written, then judged
        if server_kind == "llama-server" and len("".join(pieces)) > 12:
            assert len(pieces) > 1, pieces  # streamed, not whole
        if server_kind == "llama-cpp-python":
            assert len(pieces) == 1, pieces  # its streams carry no usage: whole
    assert final["tokens"]["prompt"] == plain["tokens"]["prompt"]
