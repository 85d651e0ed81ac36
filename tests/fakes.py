"""Fake models for fast tests: real implementations of the protocols, deterministic, no torch."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence

import numpy as np

from docqa.guide.slots import Slot
from docqa.guide.types import CachePrefix, Fill, OnText

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


class FakeChunkEmbedder(FakeEmbedder):
    """An asymmetric fake of a chunk embedder (nomic-embed's place): passages and questions
    go through embed_documents and embed_queries, which it counts, in a space of its own."""

    def __init__(self, name: str = "fake-chunks", dimension: int = 48):
        super().__init__(name=name, dimension=dimension)
        self.documents: list[str] = []
        self.queries: list[str] = []
        self.fail_after: int | None = None  # documents embedded before it raises

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if self.fail_after is not None and len(self.documents) + len(texts) > self.fail_after:
            raise KeyboardInterrupt  # as a person's Ctrl-C would stop it
        self.documents += texts
        return self.embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.queries += texts
        return self.embed(texts)


_SOURCE = re.compile(r"\n\[(\d+)\] [^\n]*\n\n(.+?)\n(?=\n\[\d+\] |Question: )", re.S)


def source_texts(prompt: str) -> dict[int, str]:
    """The texts of the numbered sources in an ask prompt (as templates/qa.j2 lays them out),
    from the last user turn."""
    last = prompt[prompt.rfind("Sources:") :]
    return {int(m.group(1)): m.group(2) for m in _SOURCE.finditer(last + "\n")}


def best_sentence(text: str, question: str) -> str:
    """The sentence of `text` sharing the most words with the question (the first of ties)."""
    asked = set(re.findall(r"\w+", question.lower()))
    parts = [p for p in re.split(r"(?<=[.!?])\s+|\n+", text.strip()) if p.strip(" .")]
    return max(parts, key=lambda p: len(asked & set(re.findall(r"\w+", p.lower()))))


def asked(prompt: str) -> str:
    """The question of an ask prompt (the last "Question: " line)."""
    return prompt[prompt.rfind("Question: ") + len("Question: ") :].split("\n", 1)[0]


def copy_reply(prompt: str, slot: Slot) -> object:
    """A faithful model: answers with the sentence of source [1] closest in words to the
    question, cited."""
    if slot.name == "reply":
        answer = best_sentence(source_texts(prompt)[1], asked(prompt))
        return {"answer": answer, "citations": [1], "answerable": True}
    if slot.choices:
        return slot.choices[0]
    return f"<{slot.name}>"


class FakeLLM:
    """Fills slots with scripted values; records every prompt and slot it was given.

    `reply(prompt, slot)` returns the value: a string, or any JSON value for schema slots.
    """

    def __init__(self, reply: Callable[[str, Slot], object] = copy_reply, name: str = "fake-llm"):
        self.reply = reply
        self.name = name
        self.prompts: list[str] = []
        self.slots: list[Slot] = []
        self.heals: list[bool] = []
        self.cache_prefixes: list[str | None] = []
        self.beam_options: Callable[[str, Slot], list[tuple[str, float]]] = lambda p, s: []

    def load(self) -> None:
        pass

    def role_markers(self) -> dict[str, tuple[str, str]]:
        markers = {r: (f"<{r}>", f"</{r}>\n") for r in ("system", "user", "assistant")}
        markers["generation"] = ("<assistant>", "")
        return markers

    def fill(
        self,
        prompt: str,
        slot: Slot,
        *,
        heal: bool = True,
        cache_prefix: CachePrefix = None,
        on_text: OnText = None,
    ) -> Fill:
        self.cache_prefixes.append(cache_prefix)
        self.heals.append(heal)
        self.prompts.append(prompt)
        self.slots.append(slot)
        value = self.reply(prompt, slot)
        text = value if isinstance(value, str) else json.dumps(value)
        if on_text is not None:  # streamed a few characters at a time, as a model writes
            for end in range(3, len(text), 3):
                on_text(text[:end])
            on_text(text)
        return Fill(
            slot=slot,
            text=text,
            tokens=tuple(range(len(text.split()))),
            logprob=-1.0,
            prompt_tokens=len(prompt.split()),
            cached_tokens=0,
            finish="stop",
            healed="",
            seconds=0.0,
        )

    def fill_beams(
        self,
        prompt: str,
        slot: Slot,
        n: int,
        *,
        heal: bool = True,
        cache_prefix: CachePrefix = None,
    ) -> list[Fill]:
        """Scripted beams: `beam_options(prompt, slot)` gives (value, logprob) pairs."""
        self.prompts.append(prompt)
        options = self.beam_options(prompt, slot)[:n]
        return [
            Fill(
                slot=slot,
                text=v,
                tokens=(1,),
                logprob=lp,
                prompt_tokens=1,
                cached_tokens=0,
                finish="stop",
                healed="",
                seconds=0.0,
            )
            for v, lp in options
        ]
