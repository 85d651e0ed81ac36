"""How the remote backend speaks to each kind of server, against a stub HTTP server that
records requests and answers as the real ones do (their answers are documented; the real
llama-cpp-python server is in test_remote_server.py). Also: the GBNF translation."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from docqa.adapters.remote import ChatFormat, RemoteLLM
from docqa.errors import GenerationError, ModelError, TemplateError
from docqa.guide.gbnf import regex_rule, slot_grammar
from docqa.guide.slots import make_slot
from tests.conftest import READER

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class Stub:
    """Routes: path -> (status, JSON body) or a callable(body) -> (status, JSON)."""

    def __init__(self, routes: dict):
        self.routes = routes
        self.requests: list[tuple[str, dict | None]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, body):
                stub.requests.append((self.path, body))
                route = stub.routes.get(self.path, (404, {"error": "not found"}))
                status, data = route(body) if callable(route) else route
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self):
                self._answer(None)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                self._answer(json.loads(self.rfile.read(n) or b"{}"))

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def completions(self) -> list[dict]:
        return [b for p, b in self.requests if p == "/v1/completions"]


def completion(text="42", **extra):
    return lambda body: (
        200,
        {
            "id": "c",
            "object": "text_completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8},
            **extra,
        },
    )


def models(owned_by="me", model_id="served-model"):
    return (
        200,
        {"object": "list", "data": [{"id": model_id, "object": "model", "owned_by": owned_by}]},
    )


@pytest.fixture
def stubs():
    made = []
    yield lambda routes: made.append(Stub(routes)) or made[-1]
    for s in made:
        s.httpd.shutdown()


def test_llama_server_is_recognised_and_its_chat_template_and_cache_counts_used(stubs):
    stub = stubs(
        {
            "/v1/models": models(),
            "/props": (200, {"chat_template": CHATML, "bos_token": "", "eos_token": "<|im_end|>"}),
            "/v1/completions": completion("1889", timings={"cache_n": 5, "prompt_n": 2}),
        }
    )
    llm = RemoteLLM(stub.url, retries=0)
    assert llm.role_markers()["user"] == ("<|im_start|>user\n", "<|im_end|>\n")
    assert llm.server == "llama.cpp"
    fill = llm.fill("Q?", make_slot("year", regex="[0-9]{4}"))
    assert (fill.text, fill.cached_tokens, fill.prompt_tokens, fill.logprob) == ("1889", 5, 7, None)
    sent = stub.completions()[0]
    assert sent["grammar"] == "root ::= [0-9]{4,4}\n"
    assert sent["cache_prompt"] is True and sent["repeat_penalty"] == 1.0
    assert sent["temperature"] == 0.0 and sent["prompt"] == "Q?"


def test_vllm_gets_structured_outputs_and_reports_cached_tokens(stubs):
    usage = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11,
             "prompt_tokens_details": {"cached_tokens": 8}}  # fmt: skip
    stub = stubs(
        {
            "/v1/models": models(owned_by="vllm"),
            "/v1/completions": lambda b: (
                200,
                {
                    **completion('{"a":1}' if "json" in b["structured_outputs"] else "yes")(b)[1],
                    "usage": usage,
                },
            ),
        }
    )
    llm = RemoteLLM(stub.url, retries=0, chat_format=ChatFormat(CHATML))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    llm.fill("p", make_slot("s", choices=["yes", "no"]))
    llm.fill("p", make_slot("r", regex="[a-z]+"))
    assert llm.fill("p", make_slot("j", schema=schema)).cached_tokens == 8
    sent = [b["structured_outputs"] for b in stub.completions()]
    assert sent == [{"choice": ["yes", "no"]}, {"regex": "[a-z]+"}, {"json": schema}]
    assert llm.server == "vllm"


def test_a_server_without_constraints_refuses_a_constrained_slot(stubs):
    stub = stubs({"/v1/models": models(), "/v1/completions": completion("free text")})
    llm = RemoteLLM(stub.url, retries=0, chat_format=ChatFormat(CHATML))
    assert llm.fill("p", make_slot("t")).text == "free text"  # free text is fine
    with pytest.raises(GenerationError, match="has no constraint for completions"):
        llm.fill("p", make_slot("r", regex="[a-z]+"))
    assert llm.server == "openai" and len(stub.completions()) == 1


def test_a_rejected_constraint_names_the_slot_and_the_servers_reason(stubs):
    stub = stubs(
        {
            "/v1/models": models(),
            "/extras/tokenize/count": (200, {"count": 1}),
            "/v1/completions": (400, {"error": {"message": "failed to parse grammar"}}),
        }
    )
    llm = RemoteLLM(stub.url, retries=0, chat_format=ChatFormat(CHATML))
    with pytest.raises(GenerationError, match=r"rejected slot 'r' \(regex constraint\): failed"):
        llm.fill("p", make_slot("r", regex="[a-z]+"))
    assert llm.server == "llama-cpp-python"


def test_an_unknown_chat_format_asks_for_the_gguf_or_a_template(stubs, tmp_path):
    stub = stubs({"/v1/models": models(model_id="/srv/other.gguf")})
    llm = RemoteLLM(stub.url, retries=0, local_gguf=tmp_path / "mine.gguf")
    with pytest.raises(ModelError, match="cannot tell the chat format of '/srv/other.gguf'"):
        llm.role_markers()


def test_a_slow_server_is_a_timeout_error(stubs):
    import time

    stub = stubs({"/v1/models": lambda b: (time.sleep(2), models())[1]})
    with pytest.raises(ModelError, match=r"did not answer /v1/models within 0.5 s"):
        RemoteLLM(stub.url, timeout=0.5, retries=0).load()


def test_a_bad_url_is_a_usage_error():
    from docqa.errors import UsageError

    with pytest.raises(UsageError, match="http"):
        RemoteLLM("localhost:8080")


@pytest.mark.parametrize(
    ("regex", "gbnf"),
    [
        ("[0-9]{4}", "[0-9]{4,4}"),
        (r"\w+", "[0-9A-Za-z_]+"),
        ("a|bc?", '("a" | ("b" "c"?))'),
        (r"[^\s,]{1,}", r"[^\x20\t\n\r\x0C\x0B,]+"),
        (r"[\^a-]", r"[\x5Ea\x2D]"),
        ('"x\\\\', r'("\"" "x" "\\")'),
        (".*", r"[^\n]*"),
        ("(?s:.)", r"[\x00-\U0010FFFF]"),
    ],
)
def test_regexes_become_gbnf(regex, gbnf):
    assert regex_rule(regex) == gbnf


def test_regexes_gbnf_cannot_express_are_refused():
    with pytest.raises(TemplateError, match="GBNF cannot express"):
        regex_rule(r"(a)\1")


@pytest.fixture(scope="module")
def parses():
    """llama.cpp's own GBNF parser (llama-cpp-python's LlamaGrammar only keeps the text)."""
    import llama_cpp

    from docqa.adapters.llama_engine import _quiet_stderr
    from docqa.components import resolve_model_path
    from docqa.config import load_settings

    path = resolve_model_path(load_settings(env={}, model=READER))
    with _quiet_stderr():
        model = llama_cpp.Llama(str(path), vocab_only=True, verbose=False, n_ctx=512)

    def check(grammar: str) -> bool:
        with _quiet_stderr():
            sampler = llama_cpp.llama_sampler_init_grammar(
                model._model.vocab, grammar.encode(), b"root"
            )
        if sampler:
            llama_cpp.llama_sampler_free(sampler)
        return bool(sampler)

    return check


@pytest.mark.parametrize(
    "regex",
    [r"\s+", r"\S", r"[\s\d]", r"[\^a]", r"[a\-z]", r"[\[\]]", '"\\\\', "é{2}", "\t|\n", "(?s:.)"],
)
@pytest.mark.models  # the bundled GGUF's vocabulary
def test_llama_cpp_parses_every_translated_regex(parses, regex):
    assert parses(f"root ::= {regex_rule(regex)}\n")


@pytest.mark.models  # the bundled GGUF's vocabulary
def test_the_parser_check_can_fail(parses):
    assert not parses("root ::= [\\f]\n")  # an escape llama.cpp does not know


@pytest.mark.models  # the bundled GGUF's vocabulary
def test_schema_grammar_is_compact_json_that_llama_cpp_parses(parses):
    from docqa.flows.reply import answer_schema

    grammar = slot_grammar(make_slot("reply", schema=answer_schema(3)))
    assert 'space ::= ""' in grammar and '\\w"' not in grammar
    assert "answer ::= " in grammar and "[0-9A-Za-z_]" in grammar
    assert parses(grammar)


def test_a_json_string_pattern_never_reaches_a_quote_or_backslash():
    """`.` and negated classes inside a schema's pattern leave out what would end or break
    the JSON string; a pattern that asks for a quote is refused."""
    dot = regex_rule(".+", json_string=True)
    assert dot == '[^"\\\\\\x00-\\x1F]+'
    assert regex_rule("[^a]", json_string=True) == '[^a"\\\\\\x00-\\x1F]'
    with pytest.raises(TemplateError, match="inside a JSON string"):
        regex_rule('[a"]', json_string=True)


def test_case_insensitive_regexes_are_refused():
    with pytest.raises(TemplateError, match="ignores case"):
        regex_rule("(?i)yes")


def test_a_value_the_server_cut_off_is_asked_again_with_room(stubs):
    """The local decoder closes JSON inside its budget; a server cannot, so a value it left
    unfinished at the budget is requested again with more room, and says so."""
    stub = stubs(
        {
            "/v1/models": models(),
            "/extras/tokenize/count": (200, {"count": 1}),
            "/v1/completions": lambda b: (
                200,
                {
                    **completion("")(b)[1],
                    "choices": [
                        {
                            "index": 0,
                            "text": '{"a":' if b["max_tokens"] == 5 else '{"a":12}',
                            "finish_reason": "length" if b["max_tokens"] == 5 else "stop",
                        }
                    ],
                },
            ),
        }
    )
    llm = RemoteLLM(stub.url, retries=0, chat_format=ChatFormat(CHATML))
    fill = llm.fill("p", make_slot("j", schema={"type": "object"}, max_tokens=5))
    assert (fill.text, fill.finish) == ('{"a":12}', "over_budget")
    assert [b["max_tokens"] for b in stub.completions()] == [5, 4 * 5 + 64]


def test_a_value_breaking_its_constraint_is_an_error_not_an_answer(stubs):
    stub = stubs(
        {
            "/v1/models": models(owned_by="vllm"),
            "/v1/completions": completion("Not a number"),
        }
    )
    llm = RemoteLLM(stub.url, retries=0, chat_format=ChatFormat(CHATML))
    with pytest.raises(GenerationError, match="breaks its regex constraint: the server ignored"):
        llm.fill("p", make_slot("n", regex="[0-9]+"))
