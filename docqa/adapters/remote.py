"""A model behind an OpenAI-compatible server: llama.cpp's `llama-server`, llama-cpp-python's
`python -m llama_cpp.server`, vLLM, or a deployment of one of them behind a load balancer.

Template programs render the whole prompt, chat markers included, so every slot goes out as
a plain completion (`/v1/completions`) of that exact text, and the server's tokenizer sees
what the local one would. A slot's constraint goes out in the server's own structured-output
language: a GBNF grammar for the llama.cpp servers (the same language as the local
llguidance grammar, see docqa.guide.gbnf), `structured_outputs` for vLLM. What a server
cannot do is refused or reported, never imitated:

- beam search (`--beams`) needs scored alternatives per token: refused;
- token healing needs the prompt's tokens: not done (`healed` stays "");
- cached prompt tokens, first-token time and masked log-probabilities are reported only when
  the server reports them (None otherwise);
- a plain OpenAI-style server has no constraint for completions: a constrained slot is
  refused with the reason.

The server keeps its own prefix cache (llama.cpp reuses the longest common prefix of the
previous prompt, vLLM caches prefix blocks): a template's static prefix and sources come
first, so follow-up slots and attempts prefill only what is new.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

from docqa.errors import GenerationError, ModelError, UsageError
from docqa.guide.slots import Slot
from docqa.guide.types import CachePrefix, Fill, OnText


@dataclass(frozen=True)
class ChatFormat:
    template: str | None  # a Jinja chat template, as models ship them
    bos: str = ""
    eos: str = ""
    source: str = ""  # where it came from, for messages


class RemoteLLM:
    """The Generator protocol over HTTP."""

    def __init__(
        self,
        url: str,
        *,
        server: str = "auto",
        timeout: float = 120.0,
        retries: int = 2,
        api_key: str | None = None,
        chat_format: ChatFormat | None = None,
        local_gguf: Path | None = None,
        gguf_given: bool = False,
        seed: int = 0,
    ):
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UsageError(
                f"--llm-url must be an http(s) URL such as http://host:8080, not {url!r}"
            )
        self.url = url.rstrip("/").removesuffix("/v1")
        self.server = server
        self.timeout = timeout
        self.retries = retries
        self.api_key = api_key
        self.seed = seed
        self._chat_format = chat_format
        self._local_gguf = local_gguf
        self._gguf_given = gguf_given
        self.model_id: str | None = None
        self.name = f"{self.url}"
        self._client = None

    # -- connection ------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(
                base_url=self.url + "/v1",
                api_key=self.api_key or "none",
                timeout=self.timeout,
                max_retries=self.retries,
            )
        return self._client

    def _call(self, what: str, fn, slot: Slot | None = None):
        """Run one request, turning the client's errors into docqa's, worded for users."""
        import openai

        try:
            return fn()
        except openai.APITimeoutError:
            raise ModelError(
                f"the model server at {self.url} did not answer {what} within {self.timeout:g} s "
                f"({self.retries} retries; llm_timeout in docqa.toml)"
            ) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise ModelError(
                f"cannot reach the model server at {self.url} ({cause}); is it running? "
                "(`python -m llama_cpp.server --model FILE.gguf` starts one)"
            ) from None
        except openai.APIStatusError as exc:
            message = _server_message(exc)
            if slot is not None and exc.status_code in (400, 422) and slot.kind != "text":
                raise GenerationError(
                    f"the model server at {self.url} rejected slot {slot.name!r} "
                    f"({slot.kind} constraint): {message}"
                ) from None
            raise ModelError(
                f"the model server at {self.url} answered {what} with {exc.status_code}: {message}"
            ) from None

    def load(self) -> None:
        """Find the served model and the server's kind; idempotent."""
        if self.model_id is not None:
            return
        models = self._call("/v1/models", lambda: self.client.models.list())
        data = list(models.data)
        if not data:
            raise ModelError(f"the model server at {self.url} serves no model")
        self.model_id = data[0].id
        if self.server == "auto":
            self.server = self._detect(getattr(data[0], "owned_by", "") or "")
        self.name = f"{Path(self.model_id).name} @ {self.url}"

    def _detect(self, owned_by: str) -> str:
        if owned_by == "vllm":
            return "vllm"
        if self._props is not None:
            return "llama.cpp"
        if self._get("/extras/tokenize/count", {"input": "x"}) is not None:
            return "llama-cpp-python"
        return "openai"

    def _get(self, path: str, body: dict | None = None) -> dict | None:
        """A JSON answer from an endpoint some servers have; None when this one has not."""
        import openai

        root = self.client.with_options(base_url=self.url, max_retries=0)  # not under /v1
        try:
            if body is None:
                answer = root.get(path, cast_to=object)
            else:
                answer = root.post(path, body=body, cast_to=object)
        except openai.OpenAIError:
            return None
        return answer if isinstance(answer, dict) else None

    @cached_property
    def _props(self) -> dict | None:
        """llama-server's /props (its chat template among them); None from other servers.
        Asked once: detection and the chat format both need it."""
        props = self._get("/props")
        return props if isinstance(props, dict) and "chat_template" in props else None

    # -- chat format -----------------------------------------------------------------------
    def chat_format(self) -> ChatFormat:
        """The served model's chat template: `llm_chat_template` when set, else the server's
        when it says (llama.cpp's /props), else the model's GGUF file here (read for its
        metadata only), which must be the file the server serves: the one --model names, or
        the bundled one when the server's model id has its file name."""
        if self._chat_format is not None:
            return self._chat_format
        self.load()
        props = self._props if self.server == "llama.cpp" else None
        if props and props.get("chat_template"):
            self._chat_format = ChatFormat(
                props["chat_template"],
                props.get("bos_token", "") or "",
                props.get("eos_token", "") or "",
                f"{self.url}/props",
            )
            return self._chat_format
        gguf = self._local_gguf
        if gguf is None or not (self._gguf_given or _same_file(self.model_id, gguf)):
            raise ModelError(
                f"cannot tell the chat format of {self.model_id!r} at {self.url}: the server "
                "does not say; pass --model with the GGUF file it serves (read only for its chat "
                "template), or set llm_chat_template in docqa.toml to its Jinja chat template"
            )
        from docqa.adapters.llama_engine import gguf_chat_format

        template, bos, eos = gguf_chat_format(gguf)
        self._chat_format = ChatFormat(template, bos, eos, str(gguf))
        return self._chat_format

    def role_markers(self) -> dict[str, tuple[str, str]]:
        from docqa.guide.chat import role_markers

        fmt = self.chat_format()
        return role_markers(fmt.template, fmt.bos, fmt.eos)

    # -- generation ------------------------------------------------------------------------
    def request(self, prompt: str, slot: Slot) -> dict:
        """The completion request for one slot: greedy unless the slot samples."""
        self.load()
        body: dict = {
            "model": self.model_id,
            "prompt": prompt,
            "max_tokens": slot.max_tokens,
            "temperature": slot.temperature,
            "seed": self.seed,
            "logprobs": 1,
        }
        if slot.stop:
            body["stop"] = list(slot.stop)
        extra: dict = {}
        if self.server in ("llama.cpp", "llama-cpp-python"):
            # llama.cpp's samplers add a repeat penalty by default; the local decoder has none
            extra["repeat_penalty"] = 1.0
            if self.server == "llama.cpp":
                extra["cache_prompt"] = True
            if slot.kind != "text":
                from docqa.guide.gbnf import slot_grammar

                extra["grammar"] = slot_grammar(slot)
        elif self.server == "vllm":
            extra["repetition_penalty"] = 1.0
            if slot.regex is not None:
                extra["structured_outputs"] = {"regex": slot.regex}
            elif slot.choices is not None:
                extra["structured_outputs"] = {"choice": list(slot.choices)}
            elif slot.schema_json is not None:
                extra["structured_outputs"] = {"json": slot.schema}
        elif slot.kind != "text":
            raise GenerationError(
                f"the model server at {self.url} has no constraint for completions, so slot "
                f"{slot.name!r} ({slot.kind}) cannot be held to it; serve the model with "
                "llama.cpp, llama-cpp-python or vLLM (or set llm_server in docqa.toml)"
            )
        body["extra_body"] = extra
        return body

    def fill(
        self,
        prompt: str,
        slot: Slot,
        *,
        heal: bool = True,
        cache_prefix: CachePrefix = None,
        on_text: OnText = None,
    ) -> Fill:
        """The value in one completion request. `on_text` is told the value as the server
        streams it, from servers that report usage in a stream (llama.cpp's llama-server,
        vLLM); others' values are told once, whole. A value that breaks its constraint is
        still an error after it was shown."""
        started = time.perf_counter()
        stream = on_text if self.server in STREAMS_USAGE else None
        response = self._complete(prompt, slot, slot.max_tokens, stream)
        finish = "length" if response.choices[0].finish_reason == "length" else "stop"
        if finish == "length" and not self._complete_value(slot, response.choices[0].text):
            # The local decoder closes a constrained value inside its budget; a server cannot
            # be told to, so a value it cut off unfinished is asked for again with room to
            # finish (the local decoder, too, goes over budget rather than return it invalid).
            response = self._complete(prompt, slot, 4 * slot.max_tokens + 64, stream)
            finish = "over_budget"
        seconds = time.perf_counter() - started
        choice = response.choices[0]
        if not self._complete_value(slot, choice.text):
            if choice.finish_reason == "length":
                raise GenerationError(
                    f"slot {slot.name!r}: the model server did not finish the {slot.kind} "
                    f"value within {4 * slot.max_tokens + 64} tokens"
                )
            raise GenerationError(
                f"the model server at {self.url} returned {choice.text[:60]!r} for slot "
                f"{slot.name!r}, which breaks its {slot.kind} constraint: the server ignored it "
                f"(llm_server = {self.server!r}; a vLLM older than 0.10.2 needs guided_* fields)"
            )
        usage = response.usage
        logprobs = getattr(choice, "logprobs", None)
        token_logprobs = [
            x for x in (getattr(logprobs, "token_logprobs", None) or []) if x is not None
        ]
        if on_text is not None:
            on_text(choice.text)  # the whole value (again, when it was streamed)
        return Fill(
            slot=slot,
            text=choice.text,
            tokens=(),
            n_tokens=usage.completion_tokens if usage else len(token_logprobs),
            logprob=sum(token_logprobs) if token_logprobs else None,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            cached_tokens=_cached_tokens(response),
            finish=finish,
            healed="",
            seconds=seconds,
            first_token_seconds=None,
        )

    def _complete(self, prompt: str, slot: Slot, max_tokens: int, on_text: OnText = None):
        body = self.request(prompt, slot)
        body["max_tokens"] = max_tokens
        if on_text is None:
            return self._call(
                f"slot {slot.name!r}", lambda: self.client.completions.create(**body), slot
            )
        body |= {"stream": True, "stream_options": {"include_usage": True}}
        return self._call(
            f"slot {slot.name!r}",
            lambda: _gathered(self.client.completions.create(**body), on_text),
            slot,
        )

    @staticmethod
    def _complete_value(slot: Slot, text: str) -> bool:
        """Whether `text` is a whole value of the slot's constraint. A server that ignores a
        constraint (an older vLLM drops fields it does not know, with a warning only in its
        own log) must not pass its free text off as constrained; a value cut off at the
        budget must not pass for a finished one."""
        import json
        import re

        if slot.choices is not None:
            return text in slot.choices
        if slot.regex is not None:
            try:
                return re.fullmatch(slot.regex, text, re.DOTALL) is not None
            except re.error:  # a Rust-only regex feature: llguidance validated it already
                return True
        if slot.schema_json is not None:
            try:
                json.loads(text)
            except ValueError:
                return False
        return True

    def fill_beams(
        self,
        prompt: str,
        slot: Slot,
        n: int,
        *,
        heal: bool = True,
        cache_prefix: CachePrefix = None,
    ) -> list[Fill]:
        if n > 1:
            raise UsageError(
                "beam search (--beams) needs the local model: an OpenAI-compatible server "
                "returns one completion, not scored alternatives per token"
            )
        return [self.fill(prompt, slot, heal=heal, cache_prefix=cache_prefix)]


def _server_message(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or error)
        return str(error)
    return str(getattr(exc, "message", exc))


# servers whose streamed completions end with the usage (and llama-server's timings), so a
# streamed value is counted as a whole one is
STREAMS_USAGE = ("llama.cpp", "vllm")


def _gathered(chunks, on_text) -> SimpleNamespace:
    """A streamed completion put back together as the client returns a whole one (text,
    finish reason, log-probabilities, usage, llama-server's timings), telling `on_text` the
    text so far at every chunk."""
    text, finish, logprobs, usage, extra = "", None, [], None, {}
    for chunk in chunks:
        usage = chunk.usage or usage
        extra |= {k: v for k, v in (chunk.model_extra or {}).items() if k == "timings"}
        for choice in chunk.choices or ():
            text += choice.text or ""
            finish = choice.finish_reason or finish
            logprobs += getattr(choice.logprobs, "token_logprobs", None) or []
            if choice.text:
                on_text(text)
    choice = SimpleNamespace(
        text=text, finish_reason=finish, logprobs=SimpleNamespace(token_logprobs=logprobs)
    )
    return SimpleNamespace(choices=[choice], usage=usage, model_extra=extra)


def _cached_tokens(response) -> int | None:
    """Prompt tokens the server had cached, where it says: OpenAI-style usage details (vLLM)
    or llama-server's own `timings`; None when it does not (llama-cpp-python)."""
    usage = response.usage
    details = getattr(usage, "prompt_tokens_details", None) if usage else None
    if details is not None and getattr(details, "cached_tokens", None) is not None:
        return int(details.cached_tokens)
    timings = (getattr(response, "model_extra", None) or {}).get("timings")
    if isinstance(timings, dict) and "cache_n" in timings:
        return int(timings["cache_n"])
    return None


def _same_file(model_id: str | None, gguf: Path) -> bool:
    """Whether the server's model id names this GGUF file (llama-cpp-python's id is the path
    it loaded, unless the server gives it an alias)."""
    return bool(model_id) and Path(model_id).name == gguf.name
