"""Scripted beam search across all the generation points of a template program (as LMQL
does): N partial programs ranked by cumulative log-probability, each continuing its own
slots under its own constraints; the best complete programs win.

A jinja2 render cannot be forked, so a partial program is its list of filled slots: to
continue one, the template is rendered again with those fills replayed (cheap: no model
call) until it reaches its next slot, which the model then fills with the slot's own beam
search. The engine's prefix reuse means beams share the KV state of their common prefix.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from docqa.errors import DocqaError, GenerationError
from docqa.guide.program import Program, ProgramResult
from docqa.guide.slots import Slot
from docqa.guide.types import CachePrefix, Fill, Generator, OnText


@dataclass
class Beam:
    result: ProgramResult
    logprob: float


class _Pause(DocqaError):
    """Raised at the first slot beyond the replayed ones."""

    def __init__(self, prompt: str, slot: Slot, heal: bool, cache_prefix: CachePrefix):
        super().__init__("paused")
        self.prompt, self.slot, self.heal, self.cache_prefix = prompt, slot, heal, cache_prefix


class _Replay:
    """A generator that answers with recorded fills, then pauses at the next slot."""

    def __init__(self, inner: Generator, fills: list[Fill]):
        self.inner = inner
        self.fills = fills
        self.name = inner.name
        self.i = 0

    def load(self) -> None:
        self.inner.load()

    def role_markers(self) -> dict[str, tuple[str, str]]:
        return self.inner.role_markers()

    def fill(
        self,
        prompt: str,
        slot: Slot,
        *,
        heal: bool = True,
        cache_prefix: CachePrefix = None,
        on_text: OnText = None,  # beams are scored whole: nothing streams
    ) -> Fill:
        if self.i < len(self.fills):
            fill = self.fills[self.i]
            self.i += 1
            if fill.slot.name != slot.name:
                raise GenerationError("the template took another path while replaying a beam")
            return fill
        raise _Pause(prompt, slot, heal, cache_prefix)

    def fill_beams(
        self,
        prompt: str,
        slot: Slot,
        n: int,
        *,
        heal: bool = True,
        cache_prefix: CachePrefix = None,
    ) -> list[Fill]:
        # a slot's own beams= changes nothing here: run_beams searches every slot with n beams
        return [self.fill(prompt, slot, heal=heal, cache_prefix=cache_prefix)]


def run_beams(
    program: Program, generator, variables: Mapping[str, object], n: int, *, heal: bool = True
) -> list[Beam]:
    """The n best complete programs, best first. `generator` must offer fill_beams()."""
    if n < 1:
        raise DocqaError("--beams must be at least 1")
    started = time.perf_counter()
    live: list[tuple[list[Fill], float]] = [([], 0.0)]
    complete: list[Beam] = []
    while live:
        candidates: list[tuple[list[Fill], float]] = []
        for fills, score in live:
            try:
                result = program.run(_Replay(generator, fills), variables, heal=heal)
            except _Pause as pause:
                options = generator.fill_beams(
                    pause.prompt, pause.slot, n, heal=pause.heal, cache_prefix=pause.cache_prefix
                )
                candidates.extend((fills + [f], score + f.logprob) for f in options)
                continue
            result.fills = fills
            complete.append(Beam(result, score))
        live = sorted(candidates, key=lambda c: -c[1])[:n]
        complete.sort(key=lambda b: -b.logprob)
        if live and len(complete) >= n and complete[n - 1].logprob >= live[0][1]:
            break  # log-probabilities only fall: no live beam can overtake the best n
    if not complete:
        raise GenerationError("beam search found no complete program")
    seconds = time.perf_counter() - started
    for beam in complete:
        beam.result.seconds = seconds  # the whole search, generation included
    return complete[:n]
