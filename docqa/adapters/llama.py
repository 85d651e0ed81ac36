"""The local llama.cpp backend for template programs: one engine per process, guided
decoding with llguidance, chat markers from the model's own chat template."""

from __future__ import annotations

from pathlib import Path

from docqa.adapters.llama_decode import Decoder
from docqa.adapters.llama_engine import LlamaEngine
from docqa.adapters.llama_kvcache import PrefixCache
from docqa.guide.chat import role_markers
from docqa.guide.slots import Slot
from docqa.guide.types import CachePrefix, Fill, OnText


class LlamaCppLLM:
    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        cache_dir: Path | None = None,
        forcing: str = "canonical",
        buffers: str = "auto",
    ):
        self.engine = LlamaEngine(
            path, n_ctx=n_ctx, threads=threads, seed=seed, tables_dir=cache_dir, buffers=buffers
        )
        self.cache = PrefixCache(cache_dir) if cache_dir is not None else None
        self.name = self.engine.name
        self.forcing = forcing
        self._decoder: Decoder | None = None

    def load(self) -> None:
        self.engine.load()

    @property
    def decoder(self) -> Decoder:
        if self._decoder is None:
            self._decoder = Decoder(
                self.engine, seed=self.engine.seed, cache=self.cache, forcing=self.forcing
            )
        return self._decoder

    def role_markers(self) -> dict[str, tuple[str, str]]:
        e = self.engine
        return role_markers(e.chat_template, e.bos_text, e.eos_text)

    def fill(
        self,
        prompt: str,
        slot: Slot,
        *,
        heal: bool = True,
        cache_prefix: CachePrefix = None,
        on_text: OnText = None,
    ) -> Fill:
        return self.decoder.fill(
            prompt, slot, heal=heal, cache_prefix=cache_prefix, on_text=on_text
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
        return self.decoder.fill_beams(prompt, slot, n, heal=heal, cache_prefix=cache_prefix)
