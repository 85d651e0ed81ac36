"""What every generation backend shares: the filled slot it returns, the cache prefixes it
takes, and the protocol a template program drives (docqa.adapters.llama is the local backend,
docqa.adapters.remote the server one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from docqa.guide.slots import Slot

CachePrefix = str | tuple[str, ...] | None  # one reusable prefix, or several (shortest first)
# told the slot's text so far as the model writes it (streaming); the last call holds the value
OnText = Callable[[str], None] | None


@dataclass(frozen=True)
class Fill:
    """One filled slot. A remote server may not report every figure: None means unknown."""

    slot: Slot
    text: str  # the slot's value as text
    tokens: tuple[int, ...]  # generated tokens (a healed token included); () from a server
    logprob: float | None  # sum of the chosen tokens' log-probabilities under the mask
    prompt_tokens: int
    cached_tokens: int | None
    finish: str  # "stop" | "stop_string" | "length" | "closed" (forced close at the budget)
    healed: str  # prompt text that was backed up and regenerated ("" when none)
    seconds: float
    first_token_seconds: float | None = 0.0  # from the start of the fill to its first token
    n_tokens: int | None = None  # generated tokens, when `tokens` does not hold them

    @property
    def completion_tokens(self) -> int:
        return len(self.tokens) if self.n_tokens is None else self.n_tokens


class Generator(Protocol):
    """What a template program needs from a model (docqa.adapters.llama is the real one)."""

    name: str

    def load(self) -> None:
        """Load the model now (otherwise the first slot does); idempotent."""
        ...

    def role_markers(self) -> dict[str, tuple[str, str]]:
        """Chat-format text before and after a message, by role (see docqa.guide.chat)."""
        ...

    def fill(
        self,
        prompt: str,
        slot: Slot,
        *,
        heal: bool = True,
        cache_prefix: CachePrefix = None,
        on_text: OnText = None,
    ) -> Fill:
        """Generate the slot's value after `prompt`, held to its constraint; `heal` lets the
        decoder back up the prompt's last token (token healing); `cache_prefix` is the
        template's reusable prefixes (cache points), shortest first, whose KV states may come
        from the disk cache; `on_text` is told the value so far as it grows (a backend that
        cannot stream tells it once, the whole value)."""
        ...

    def fill_beams(
        self,
        prompt: str,
        slot: Slot,
        n: int,
        *,
        heal: bool = True,
        cache_prefix: CachePrefix = None,
    ) -> list[Fill]:
        """Up to n complete values for the slot from a beam search, best first."""
        ...
