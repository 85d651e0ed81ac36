"""The llama.cpp engine under guided generation: one model per process, token-level access.

Prompts are evaluated with longest-common-prefix reuse of what the context already holds, so
successive slots, retries and chat turns only prefill new tokens. The KV state of a prefix
can be saved and restored (docqa.guide.kvcache) without the logits array.
"""

from __future__ import annotations

import ctypes
from functools import cached_property
from pathlib import Path

import numpy as np

from docqa.errors import GenerationError, ModelError


class LlamaEngine:
    def __init__(self, path: Path, *, n_ctx: int = 4096, threads: int | None = None, seed: int = 0):
        self.path = Path(path)
        self.name = self.path.name
        self.n_ctx = n_ctx
        self.threads = threads
        self.seed = seed
        self._llm = None

    # -- loading ---------------------------------------------------------------------------
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

    @property
    def llm(self):
        self.load()
        return self._llm

    @cached_property
    def n_vocab(self) -> int:
        return int(self.llm.n_vocab())

    @cached_property
    def eos(self) -> int:
        return int(self.llm.token_eos())

    @cached_property
    def guidance_tokenizer(self):
        """llguidance's view of this vocabulary (built once, ~0.3 s)."""
        from llguidance.llamacpp import lltokenizer_from_vocab

        return lltokenizer_from_vocab(self.llm._model.vocab)

    @cached_property
    def token_bytes(self) -> list[bytes]:
        llm = self.llm
        return [llm.detokenize([t], special=False) for t in range(self.n_vocab)]

    def is_special(self, token: int) -> bool:
        """A control token (chat marker, BOS/EOS): its text is the format's."""
        import llama_cpp

        attr = llama_cpp.llama_token_get_attr(self.llm._model.vocab, token)
        return bool(attr & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL)

    def is_end(self, token: int) -> bool:
        """An end-of-generation token (EOS, end of turn, ...)."""
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))

    @cached_property
    def chat_template(self) -> str | None:
        return self.llm.metadata.get("tokenizer.chat_template")

    @cached_property
    def bos_text(self) -> str:
        bos = self.llm.token_bos()
        return "" if bos < 0 else self.llm.detokenize([bos], special=True).decode("utf-8", "ignore")

    @cached_property
    def eos_text(self) -> str:
        return self.llm.detokenize([self.eos], special=True).decode("utf-8", "ignore")

    @cached_property
    def key(self) -> str:
        """Identifies the model file for caches: name, size and modification time."""
        st = self.path.stat()
        return f"{self.path.resolve()}:{st.st_size}:{int(st.st_mtime)}"

    # -- tokens ----------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        """A prompt's tokens: BOS when the model wants one, chat markers as special tokens."""
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True))

    def detokenize(self, tokens: list[int]) -> bytes:
        return self.llm.detokenize(list(tokens), special=False)

    # -- evaluation ------------------------------------------------------------------------
    @property
    def context_tokens(self) -> list[int]:
        llm = self.llm
        return [int(t) for t in llm.input_ids[: llm.n_tokens]]

    def prefill(self, tokens: list[int]) -> int:
        """Make the context hold exactly `tokens`, evaluating only what is not there yet.

        Returns how many tokens were reused from the context (cached).
        """
        if not tokens:
            raise GenerationError("cannot generate from an empty prompt")
        if len(tokens) >= self.n_ctx:
            raise GenerationError(
                f"the prompt is {len(tokens)} tokens, more than the model's {self.n_ctx}-token "
                "context; ask with a smaller -k"
            )
        llm = self.llm
        held = llm.input_ids[: llm.n_tokens]
        common = 0
        limit = min(len(held), len(tokens))
        if limit:
            diff = np.nonzero(np.asarray(held[:limit]) != np.asarray(tokens[:limit]))[0]
            common = int(diff[0]) if len(diff) else limit
        if common == len(tokens):
            common -= 1  # the last token is evaluated again to get its logits
        llm.n_tokens = common
        llm.eval(tokens[common:])
        return common

    def push(self, token: int) -> None:
        if self.llm.n_tokens + 1 >= self.n_ctx:
            raise GenerationError(f"generation ran past the model's {self.n_ctx}-token context")
        self.llm.eval([token])

    def logits(self) -> np.ndarray:
        """A copy of the logits for the next token."""
        import llama_cpp

        ptr = llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    # -- KV state --------------------------------------------------------------------------
    def save_state(self) -> bytes:
        """The context's KV state (no logits array), for docqa.guide.kvcache."""
        import llama_cpp

        ctx = self.llm._ctx.ctx
        size = llama_cpp.llama_state_get_size(ctx)
        buf = (ctypes.c_uint8 * size)()
        n = llama_cpp.llama_state_get_data(ctx, buf, size)
        return bytes(buf[:n])

    def load_state(self, data: bytes, tokens: list[int]) -> bool:
        import llama_cpp

        llm = self.llm
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_set_data(llm._ctx.ctx, buf, len(data)) != len(data):
            llm.reset()
            return False
        llm.n_tokens = len(tokens)
        llm.input_ids[: len(tokens)] = tokens
        return True
