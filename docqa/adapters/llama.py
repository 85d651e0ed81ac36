"""The local llama.cpp backend (llama-cpp-python): chat formatting and schema-held generation.

One Llama per process, so successive prompts reuse the evaluated common prefix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from docqa.errors import GenerationError, ModelError
from docqa.records import Completion

_FALLBACK_CHAT = (
    "{% for m in messages %}{{ m.role | capitalize }}: {{ m.content }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant: {% endif %}"
)


class LlamaCppLLM:
    def __init__(self, path: Path, *, n_ctx: int = 2048, threads: int | None = None, seed: int = 0):
        self.path = Path(path)
        self.name = self.path.name
        self.n_ctx = n_ctx
        self.threads = threads
        self.seed = seed
        self._llm = None
        self._formatter = None
        self._grammars: dict[str, object] = {}

    def load(self) -> None:
        if self._llm is not None:
            return
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        with self.path.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ModelError(f"{self.path} is not a GGUF model file (no GGUF header)")
        try:
            from llama_cpp import Llama

            self._llm = Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_threads=self.threads,
                seed=self.seed,
                verbose=False,
            )
        except Exception as exc:  # llama.cpp reports load failures as ValueError/RuntimeError
            raise ModelError(f"cannot load model {self.path}: {exc}") from exc
        self._formatter = self._chat_formatter()

    def _chat_formatter(self):
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = self._llm
        template = llm.metadata.get("tokenizer.chat_template") or _FALLBACK_CHAT

        def token_text(token: int) -> str:
            if token < 0:
                return ""
            return llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

        return Jinja2ChatFormatter(
            template=template,
            eos_token=token_text(llm.token_eos()),
            bos_token=token_text(llm.token_bos()),
            stop_token_ids=[llm.token_eos()],
        )

    def format_chat(self, messages: Sequence[dict[str, str]]) -> tuple[str, list[str]]:
        """The exact prompt text the model sees for these messages, and its stop strings."""
        self.load()
        result = self._formatter(messages=list(messages))  # type: ignore[misc]
        stop = (
            result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        )
        return result.prompt, stop

    def _grammar(self, schema: dict):
        from llama_cpp import LlamaGrammar

        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
        return self._grammars[key]

    def complete(
        self, messages: Sequence[dict[str, str]], *, schema: dict, max_tokens: int
    ) -> Completion:
        self.load()
        prompt, stop = self.format_chat(messages)
        n_prompt = len(self._llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
        if n_prompt + max_tokens > self.n_ctx:
            raise GenerationError(
                f"the prompt is {n_prompt} tokens, too long for the model's {self.n_ctx}-token "
                f"context with {max_tokens} tokens left to answer; ask with a smaller -k"
            )
        started = time.perf_counter()
        out = self._llm.create_completion(  # type: ignore[union-attr]
            prompt,
            max_tokens=max_tokens,
            temperature=0.0,
            grammar=self._grammar(schema),
            stop=stop,
        )
        usage = out.get("usage", {})
        choice = out["choices"][0]
        return Completion(
            text=choice["text"],
            prompt=prompt,
            prompt_tokens=int(usage.get("prompt_tokens", n_prompt)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason=choice.get("finish_reason"),
            seconds=time.perf_counter() - started,
        )
