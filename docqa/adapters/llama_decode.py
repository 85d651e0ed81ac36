"""Filling one slot token by token: llguidance masks, token healing, and a slot that always
closes inside its token budget.

Closing: near the end of the budget the decoder checks, before each token, that the shortest
way to a complete value still fits in what is left; when it would not, it takes that shortest
way instead (string closed, required keys written, arrays and objects shut). So a schema slot
never ends as truncated JSON and a regex slot always matches.
"""

from __future__ import annotations

import bisect
import hashlib
import time
from functools import cached_property

import numpy as np

from docqa.adapters.llama_engine import LlamaEngine
from docqa.adapters.llama_kvcache import PrefixCache
from docqa.errors import GenerationError, TemplateError
from docqa.guide.slots import Slot
from docqa.guide.types import CachePrefix, Fill, OnText

# Tokens that bring a JSON value (or a regex match) to an end soonest, in order of preference.
_CLOSING_ORDER = (
    # the end of a one-line value (a regex slot that ends its line): never allowed inside a
    # JSON value, so first, or a line would be filled with the "]" allowed inside it
    b"\n",
    b'"',
    b"}",
    b"]",
    b'"}',
    b'"]',
    b"]}",
    b"}}",
    b"]]",
    b",",
    b":",
    b"[]",
    b"{}",
    b"[",
    b"{",
)


class Decoder:
    """Guided decoding on one engine; keeps per-vocabulary tables between slots."""

    def __init__(
        self,
        engine: LlamaEngine,
        seed: int = 0,
        cache: PrefixCache | None = None,
        forcing: str = "canonical",
    ):
        self.engine = engine
        # "canonical": text the grammar forces (JSON keys, punctuation) goes in as llguidance's
        # canonical tokens; "model": the model chooses how to spell it, token by token, as
        # llama.cpp's grammars do (a remote llama.cpp server then gives the same answers)
        self.forcing = forcing
        self.cache = cache
        self._last_strategy = 0
        self.rng = np.random.default_rng(seed)

    # -- vocabulary tables -----------------------------------------------------------------
    @cached_property
    def _sorted_bytes(self) -> list[bytes]:
        return sorted(self.engine.token_bytes)

    @cached_property
    def _close_priorities(self) -> list[np.ndarray]:
        """Token preferences for closing (lower is better), one per greedy strategy. Each
        puts the tokens that end strings, arrays and objects and the shortest JSON values
        first; then one prefers the longest token (most required text per token), one
        punctuation (what separates parts, like "@" or "."), one the shortest token."""
        # the name changes with the closing order, so tables kept on disk from another
        # order are not read back
        order = hashlib.sha256(b"\0".join(_CLOSING_ORDER)).hexdigest()[:8]
        table = self.engine.tables(f"close-{order}", self._build_close_priorities)
        return [table["longest"], table["symbols"], table["shortest"]]

    def _build_close_priorities(self) -> dict[str, np.ndarray]:
        rank = {b: i for i, b in enumerate(_CLOSING_ORDER)}
        n = self.engine.n_vocab
        longest, symbols, shortest = (np.empty(n, dtype=np.int64) for _ in range(3))
        for t, b in enumerate(self.engine.token_bytes):
            if b in rank:
                longest[t] = symbols[t] = shortest[t] = rank[b]
                continue
            size = len(b) if b else 1000
            longest[t] = 10_000 - size if b else 100_000
            shortest[t] = 10_000 + size
            punct = bool(b) and not any(chr(c).isalnum() or chr(c).isspace() for c in b)
            symbols[t] = (5_000 if punct else 10_000) + size
        return {"longest": longest, "symbols": symbols, "shortest": shortest}

    def _extendable(self, piece: bytes) -> bool:
        """Whether some token is longer than `piece` and starts with it."""
        table = self._sorted_bytes
        i = bisect.bisect_right(table, piece)
        return i < len(table) and table[i].startswith(piece)

    # -- masks -----------------------------------------------------------------------------
    def _matcher(self, grammar: str, slot: Slot):
        from llguidance import LLMatcher

        if self.forcing == "model":
            grammar = '%llguidance {"no_forcing": true}\n' + grammar
        m = LLMatcher(self.engine.guidance_tokenizer, grammar, log_level=0)
        if m.is_error():
            raise TemplateError(f"slot {slot.name!r}: invalid constraint: {m.get_error()}")
        return m

    def _allowed(self, matcher) -> np.ndarray:
        n = self.engine.n_vocab
        mask = np.zeros((n + 31) // 32, dtype=np.int32)
        matcher.unsafe_compute_mask_ptr(mask.ctypes.data, mask.nbytes)
        return np.unpackbits(mask.view(np.uint8), bitorder="little")[:n].astype(bool)

    def closing_path(self, matcher, limit: int) -> list[int] | None:
        """A way to complete the value within `limit` tokens, or None when none of the greedy
        strategies finds one. The strategy that worked last is tried first: checks run
        before every token near the end of a budget, so they must be cheap."""
        order = [self._last_strategy] + [
            i for i in range(len(self._close_priorities)) if i != self._last_strategy
        ]
        for i in order:
            path = self._greedy_close(matcher, self._close_priorities[i], limit)
            if path is not None:
                self._last_strategy = i
                return path
        return None

    def _greedy_close(self, matcher, prio: np.ndarray, limit: int) -> list[int] | None:
        m = matcher.deep_copy()
        path: list[int] = []
        while not m.is_accepting():
            if len(path) >= limit or m.is_error():
                return None
            forced = m.compute_ff_tokens()
            if forced:
                if not m.consume_tokens(forced):
                    return None
                path.extend(forced)
                continue
            allowed = np.flatnonzero(self._allowed(m))
            allowed = allowed[allowed != self.engine.eos]
            if len(allowed) == 0:
                return None
            t = int(allowed[np.argmin(prio[allowed])])
            if not m.consume_token(t):
                return None
            path.append(t)
        return path if len(path) <= limit else None

    # -- the loop --------------------------------------------------------------------------
    def _restore_prefix(self, prefixes: CachePrefix, tokens: list[int]) -> int:
        """Bring the template's reusable prefixes (cache points) into the context: from the
        context itself, else from the longest one saved on disk, prefilling the rest and
        saving each prefix not on disk yet. Returns how many prefix tokens had to be
        evaluated here (0 when they all came from the cache or the context)."""
        engine = self.engine
        if isinstance(prefixes, str):
            prefixes = (prefixes,)
        points = []
        for prefix in prefixes or ():
            ptoks = _as_in_prompt(engine.tokenize(prefix), tokens)
            longer = not points or len(ptoks) > len(points[-1])
            if longer and 2 <= len(ptoks) < len(tokens):
                points.append(ptoks)
        if not points:
            return 0
        held = engine.context_tokens
        if held[: len(points[-1])] == points[-1]:
            return 0
        start = 0  # the longest point already in the context, or restored from disk
        for i in range(len(points) - 1, -1, -1):
            if held[: len(points[i])] == points[i] or self.cache.load(engine, points[i]):
                start = i + 1
                break
        evaluated = 0
        for ptoks in points[start:]:
            evaluated += len(ptoks) - engine.prefill(ptoks)
            self.cache.save(engine, ptoks)
        return evaluated

    def fill(
        self,
        prompt: str,
        slot: Slot,
        *,
        heal: bool = True,
        cache_prefix: CachePrefix = None,
        on_text: OnText = None,
    ) -> Fill:
        started = time.perf_counter()
        engine = self.engine
        tokens, healed, cached, matcher, budget, close_cost = self._prepare(
            prompt, slot, heal, cache_prefix
        )
        free_after_heal = slot.lark_body() is None

        out: list[int] = []
        first_token_at: float | None = None
        logprob = 0.0
        finish = "length"
        pending: int | None = None
        while len(out) < budget:
            if pending is not None:
                engine.push(pending)
                pending = None
            logits = engine.logits()
            if matcher is not None:
                logits[~self._allowed(matcher)] = -np.inf
            t = self._choose(logits, slot.temperature)
            if first_token_at is None:
                first_token_at = time.perf_counter() - started
            lp = float(logits[t] - _logsumexp(logits))
            if matcher is not None:
                left = budget - len(out) - 1
                # Check (before taking t) that the value can still close in what is left, at
                # every token once the end of the budget is within reach of the closing cost.
                near = left <= 4 * close_cost + 64
                if near and t != engine.eos:
                    after = matcher.deep_copy()
                    after.consume_token(t)
                    path = self.closing_path(after, left) if not after.is_error() else None
                    if path is None:
                        forced = self.closing_path(matcher, budget - len(out))
                        if forced is None:  # never seen; better over budget than invalid
                            forced = self.closing_path(matcher, 4 * budget + 64) or []
                        for f in forced:
                            matcher.consume_token(f)
                        out.extend(forced)
                        finish = "closed"
                        break
                    close_cost = len(path)
                if not matcher.consume_token(t):
                    raise GenerationError(f"slot {slot.name!r}: {matcher.get_error()}")
                if t == engine.eos or matcher.is_stopped():
                    if t != engine.eos:
                        out.append(t)
                        logprob += lp
                    finish = "stop"
                    break
            elif engine.is_end(t):
                finish = "stop"
                break
            out.append(t)
            logprob += lp
            pending = t
            if on_text is not None:
                shown = _shown(engine, out, healed)
                if shown:  # nothing before the healed prompt text is back
                    on_text(shown)
            # once the healed text is back, the rest of a text slot is free (the length is
            # only measured while that matters: this runs for every token)
            if (
                free_after_heal
                and matcher is not None
                and len(engine.detokenize(out)) >= len(healed.encode("utf-8"))
            ):
                matcher = None
            if slot.stop:
                text = _decode(engine, out)[len(healed) :]
                hit = _first_stop(text, slot.stop)
                if hit is not None:
                    finish = "stop_string"
                    break
        if matcher is not None and not free_after_heal and not matcher.is_accepting():
            raise GenerationError(f"slot {slot.name!r} did not close (a bug in docqa)")
        fill = self._make_fill(
            slot, out, logprob, tokens, cached, finish, healed, started, first_token_at or 0.0
        )
        if on_text is not None:
            on_text(fill.text)  # the value as returned: closed, stop strings cut
        return fill

    def _prepare(self, prompt: str, slot: Slot, heal: bool, cache_prefix: CachePrefix):
        """Tokenize (healing the last token), bring the prompt into the context, build the
        matcher and check the slot can close in its budget."""
        engine = self.engine
        tokens = engine.tokenize(prompt)
        if not tokens:  # an empty prompt starts after a document boundary
            bos = engine.llm.token_bos()
            tokens = [bos if bos >= 0 else engine.eos]
        healed = ""
        if heal and len(tokens) > 1 and not engine.is_special(tokens[-1]):
            piece = engine.token_bytes[tokens[-1]]
            if piece and self._extendable(piece):
                try:
                    healed = piece.decode("utf-8")
                    tokens = tokens[:-1]
                except UnicodeDecodeError:
                    healed = ""
        # every check that can refuse the slot comes before the (costly) prefill
        grammar = slot.grammar(healed)
        matcher = self._matcher(grammar, slot) if grammar else None
        budget = slot.max_tokens + (1 if healed else 0)
        if len(tokens) + budget >= engine.n_ctx:
            raise GenerationError(
                f"the prompt is {len(tokens)} tokens and slot {slot.name!r} may add "
                f"{slot.max_tokens}: more than the model's {engine.n_ctx}-token context; "
                "ask with a smaller -k or a smaller max_tokens"
            )
        close_cost = 0
        if matcher is not None:
            first = self.closing_path(matcher, budget)
            if first is None:
                raise TemplateError(
                    f"slot {slot.name!r} cannot be completed within max_tokens={slot.max_tokens}"
                )
            close_cost = len(first)
        fresh = 0
        if cache_prefix and self.cache is not None:
            fresh = self._restore_prefix(cache_prefix, tokens)
        cached = engine.prefill(tokens) - fresh
        return tokens, healed, cached, matcher, budget, close_cost

    def _make_fill(
        self,
        slot: Slot,
        out: list[int],
        logprob: float,
        tokens: list[int],
        cached: int,
        finish: str,
        healed: str,
        started: float,
        first_token: float,
    ) -> Fill:
        text = _decode(self.engine, out)
        if healed:
            if not text.startswith(healed):
                raise GenerationError(f"slot {slot.name!r}: token healing lost the prompt text")
            text = text[len(healed) :]
        if slot.stop:
            hit = _first_stop(text, slot.stop)
            if hit is not None:
                text = text[:hit]
        return Fill(
            slot=slot,
            text=text,
            tokens=tuple(out),
            logprob=logprob,
            prompt_tokens=len(tokens),
            cached_tokens=cached,
            finish=finish,
            healed=healed,
            seconds=time.perf_counter() - started,
            first_token_seconds=first_token,
        )

    # -- beam search -----------------------------------------------------------------------
    def fill_beams(
        self,
        prompt: str,
        slot: Slot,
        n: int,
        *,
        heal: bool = True,
        cache_prefix: CachePrefix = None,
    ) -> list[Fill]:
        """Up to n complete values for the slot, best cumulative log-probability first.

        Beams share the prompt's KV state: switching beams evaluates only the tokens in
        which they differ.
        """
        started = time.perf_counter()
        engine = self.engine
        tokens, healed, cached, matcher, budget, _ = self._prepare(prompt, slot, heal, cache_prefix)
        live: list[tuple[list[int], float, object]] = [([], 0.0, matcher)]
        done: list[tuple[list[int], float, str]] = []
        out_of_budget = True
        for _step in range(budget):
            candidates: list[tuple[list[int], float, object]] = []
            for out, lp, m in live:
                kept = len(candidates) + len(done)
                engine.prefill(tokens + out)
                logits = engine.logits()
                if m is not None:
                    logits[~self._allowed(m)] = -np.inf
                logp = logits - _logsumexp(logits)
                top = [int(t) for t in np.argsort(-logp)[: n + 1] if np.isfinite(logp[t])]
                for t in top[:n]:
                    score = lp + float(logp[t])
                    ended = t == engine.eos or (m is None and engine.is_end(t))
                    if ended:
                        done.append((out, score, "stop"))
                        continue
                    m2 = None
                    if m is not None:
                        m2 = m.deep_copy()
                        if not m2.consume_token(t):
                            continue
                        left = budget - len(out) - 1
                        if self.closing_path(m2, left) is None:
                            continue  # could not close in time: not a beam worth keeping
                        if m2.is_stopped():
                            done.append((out + [t], score, "stop"))
                            continue
                    new = out + [t]
                    if (
                        slot.stop
                        and _first_stop(_decode(engine, new)[len(healed) :], slot.stop) is not None
                    ):
                        done.append((new, score, "stop_string"))
                        continue
                    candidates.append((new, score, m2))
                if len(candidates) + len(done) == kept and m is not None:
                    # every likely continuation would miss the budget: close this beam now
                    path = self.closing_path(m, budget - len(out))
                    if path is not None:
                        done.append((out + path, lp, "closed"))
            live = sorted(candidates, key=lambda c: -c[1])[:n]
            best_done = max((d[1] for d in done), default=-np.inf)
            if not live or (len(done) >= n and best_done >= live[0][1]):
                out_of_budget = False  # what is still live can only score lower: drop it
                break
        if out_of_budget:
            for out, lp, m in live:  # the budget ran out: close what is still open
                if m is not None and not m.is_accepting():
                    path = self.closing_path(m, max(0, budget - len(out)))
                    if path is not None:
                        done.append((out + path, lp, "closed"))
                else:
                    done.append((out, lp, "length"))
        if not done:
            raise GenerationError(f"slot {slot.name!r}: beam search found no complete value")
        done.sort(key=lambda d: -d[1])
        fills, seen = [], set()
        for out, lp, finish in done:
            fill = self._make_fill(slot, out, lp, tokens, cached, finish, healed, started, 0.0)
            if fill.text not in seen:
                seen.add(fill.text)
                fills.append(fill)
        return fills[:n]

    def _choose(self, logits: np.ndarray, temperature: float) -> int:
        if temperature <= 0:
            return int(np.argmax(logits))
        z = logits / temperature
        z = np.exp(z - z.max())
        return int(self.rng.choice(len(z), p=z / z.sum()))


def _logsumexp(x: np.ndarray) -> float:
    finite = x[np.isfinite(x)]
    m = float(finite.max())
    return m + float(np.log(np.exp(finite - m).sum()))


def _decode(engine: LlamaEngine, tokens: list[int]) -> str:
    return engine.detokenize(tokens).decode("utf-8", errors="ignore")


def _shown(engine: LlamaEngine, out: list[int], healed: str) -> str:
    """The slot's text so far, without the healed prompt text it starts with."""
    text = _decode(engine, out)
    return text[len(healed) :] if text.startswith(healed) else ""


def _first_stop(text: str, stops: tuple[str, ...]) -> int | None:
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(hits) if hits else None


def _as_in_prompt(ptoks: list[int], tokens: list[int]) -> list[int]:
    """A cache point's tokens as the whole prompt spells them. The text after a point can
    change how its last token is cut (Qwen writes "sky.\n" + "\nQuestion" as "sky", ".",
    "\n\n", where "sky.\n" alone ends in ".\n"): then the point ends where the two agree,
    which every prompt with the same text before the point shares. [] when they part
    earlier: the prefix is not the prompt's."""
    n = 0
    for a, b in zip(ptoks, tokens, strict=False):
        if a != b:
            break
        n += 1
    return ptoks if n == len(ptoks) else tokens[:n] if len(ptoks) - n <= 2 else []
