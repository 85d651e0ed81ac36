"""Fake models for fast tests: real implementations of the protocols, deterministic, no torch."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence

import numpy as np

from docqa.records import Completion

_TOKEN = re.compile(r"\w+|[^\w\s]")


class FakeTokenizer:
    """Words and punctuation marks are tokens; two specials, like BERT's [CLS] and [SEP]."""

    specials = 2

    def offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        return [[m.span() for m in _TOKEN.finditer(t)] for t in texts]


class FakeEmbedder:
    """Bag of hashed words: texts sharing words get similar unit vectors."""

    def __init__(self, name: str = "fake-embedder", dimension: int = 64, max_tokens: int = 256):
        self.name = name
        self.dimension = dimension
        self.max_tokens = max_tokens
        self.tokenizer = FakeTokenizer()
        self.calls: list[list[str]] = []

    def load(self) -> None:
        pass

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dimension)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            v = np.zeros(self.dimension)
            for w in re.findall(r"\w+", text.lower()):
                v += self._word(w)
            norm = np.linalg.norm(v)
            out[i] = v / norm if norm else v
        return out

    @property
    def embedded(self) -> int:
        return sum(len(c) for c in self.calls)


def _default_reply(messages: Sequence[dict], schema: dict) -> dict:
    return {"answer": "A fake answer.", "citations": [1], "answerable": True}


class FakeLLM:
    """Returns scripted JSON replies; records what it was asked."""

    def __init__(
        self,
        reply: Callable[[Sequence[dict], dict], dict | str] = _default_reply,
        name: str = "fake-llm",
    ):
        self.reply = reply
        self.name = name
        self.prompts: list[list[dict]] = []
        self.schemas: list[dict] = []

    def load(self) -> None:
        pass

    def complete(self, messages, *, schema, max_tokens) -> Completion:
        self.prompts.append(list(messages))
        self.schemas.append(schema)
        reply = self.reply(messages, schema)
        text = reply if isinstance(reply, str) else json.dumps(reply)
        prompt = "\n".join(m["content"] for m in messages)
        return Completion(
            text=text,
            prompt=prompt,
            prompt_tokens=len(prompt.split()),
            completion_tokens=len(text.split()),
            finish_reason="stop",
        )
