"""The llama.cpp engine under guided generation: one model per process, token-level access.

Prompts are evaluated with longest-common-prefix reuse of what the context already holds, so
successive slots, retries and chat turns only prefill new tokens. The KV state of a prefix
can be saved and restored (docqa.adapters.llama_kvcache) without the logits array.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import sys
from collections.abc import Callable
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import numpy as np

from docqa.errors import GenerationError, ModelError


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class LlamaEngine:
    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        tables_dir: Path | None = None,
        buffers: str = "auto",
        probe_dir: Path | None = None,
    ):
        self.path = Path(path)
        self.name = self.path.name
        self.n_ctx = n_ctx
        self.threads = threads
        self.seed = seed
        self.tables_dir = Path(tables_dir) if tables_dir is not None else None
        self.buffers = buffers  # llama.cpp's extra buffer types: auto (probed) | extra | plain
        self.probe_dir = probe_dir
        self.runtime = None  # the RuntimeChoice the model was loaded with
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
        from docqa.adapters.llama_runtime import model_params

        threads = self.decode_threads
        runtime = self.runtime_choice()
        try:
            from llama_cpp import Llama

            with model_params(extra_buffers=runtime.extra_buffers):
                self._llm = Llama(
                    model_path=str(self.path),
                    n_ctx=self.n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    seed=self.seed,
                    verbose=False,
                )
        except Exception as exc:  # llama.cpp reports load failures as ValueError/RuntimeError
            raise ModelError(f"cannot load model {self.path}: {exc}") from exc

    @property
    def decode_threads(self) -> int:
        # llama-cpp-python decodes on half the cores by default: on 2 cores that is one
        # thread (bench/generate.py measures both)
        return self.threads or usable_cores()

    def runtime_choice(self):
        """How this model's weights are laid out: in llama.cpp's extra buffer types (AMX,
        repacked) only where a probe in a child process showed them safe on this CPU
        (docqa.adapters.llama_runtime). Made once per engine, before loading."""
        if self.runtime is None:
            from docqa.adapters.llama_runtime import choose

            self.runtime = choose(
                self.path,
                setting=self.buffers,
                threads=self.decode_threads,
                probe_dir=self.probe_dir,
            )
        return self.runtime

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

    def tables(
        self, name: str, build: Callable[[], dict[str, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """Arrays computed from this model's vocabulary, built once and kept on disk (in
        `tables_dir`, beside the KV cache): walking 49k tokens in Python costs a cold process
        tenths of a second before its first token."""
        if self.tables_dir is None:
            return build()
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:16]
        path = self.tables_dir / f"vocab-{name}-{digest}.npz"
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {k: stored[k] for k in stored.files}
        except (OSError, ValueError, EOFError):
            pass
        arrays = build()
        try:
            self.tables_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs time
        return arrays

    def _byte_strings(self, name: str, piece: Callable[[int], bytes]) -> list[bytes]:
        def build() -> dict[str, np.ndarray]:
            pieces = [piece(t) for t in range(self.n_vocab)]
            ends = np.cumsum([len(p) for p in pieces], dtype=np.int64)
            return {"ends": ends, "blob": np.frombuffer(b"".join(pieces), dtype=np.uint8)}

        table = self.tables(name, build)
        blob, ends = table["blob"].tobytes(), table["ends"].tolist()
        return [blob[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]

    @cached_property
    def guidance_tokenizer(self):
        """llguidance's view of this vocabulary: each token's text, control tokens marked
        with a 0xff byte (as llguidance.llamacpp.lltokenizer_from_vocab builds it)."""
        import llama_cpp
        from llguidance import LLTokenizer

        vocab = self.llm._model.vocab
        buffer = ctypes.create_string_buffer(16 * 1024 + 1)

        def piece(token: int) -> bytes:
            n = llama_cpp.llama_token_to_piece(vocab, token, buffer, 16 * 1024, 0, True)
            if n < 0:
                raise ModelError(f"token {token} of {self.path} has no text")
            text = buffer.raw[:n]
            attr = llama_cpp.llama_token_get_attr(vocab, token)
            user = attr & llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
            if attr & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL or (
                user and text.startswith(b"<") and text.endswith(b">")
            ):
                text = b"\xff" + text
            return text

        fptr = ctypes.cast(llama_cpp.llama_cpp._lib.llama_tokenize, ctypes.c_void_p).value
        return LLTokenizer.from_llamacpp(
            tokens=self._byte_strings("guidance", piece),
            vocab_ptr=vocab,
            tokenize_fptr=fptr,
            eos_token=self.eos,
            slices=None,
        )

    @cached_property
    def token_bytes(self) -> list[bytes]:
        llm = self.llm
        return self._byte_strings("bytes", lambda t: llm.detokenize([t], special=False))

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
        return _token_text(self.llm, self.llm.token_bos())

    @cached_property
    def eos_text(self) -> str:
        return _token_text(self.llm, self.eos)

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
        """The context's KV state (no logits array), for docqa.adapters.llama_kvcache."""
        import llama_cpp

        ctx = self.llm._ctx.ctx
        size = llama_cpp.llama_state_get_size(ctx)
        buf = (ctypes.c_uint8 * size)()
        n = llama_cpp.llama_state_get_data(ctx, buf, size)
        return ctypes.string_at(buf, n)  # (slicing the array would build a list of ints)

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


def gguf_chat_format(path: Path) -> tuple[str | None, str, str]:
    """(chat template, BOS text, EOS text) of a GGUF file, read without loading its weights
    (the remote backend's chat format when the server does not say)."""
    if not Path(path).is_file():
        raise ModelError(f"model file not found: {path} (read for the server's chat format)")
    try:
        from llama_cpp import Llama

        with _quiet_stderr():  # llama.cpp warns about the unused context on stderr
            vocab = Llama(model_path=str(path), vocab_only=True, verbose=False, n_ctx=512)
    except Exception as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    return (
        vocab.metadata.get("tokenizer.chat_template"),
        _token_text(vocab, vocab.token_bos()),
        _token_text(vocab, vocab.token_eos()),
    )


def _token_text(llm, token: int) -> str:
    """A special token's text (BOS, EOS) as chat templates write it; "" for none (-1)."""
    return "" if token < 0 else llm.detokenize([token], special=True).decode("utf-8", "ignore")


@contextmanager
def _quiet_stderr():
    """Silence what C code writes to file descriptor 2 while the block runs."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
