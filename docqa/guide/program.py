"""Template programs: a jinja2 template whose `gen` and `select` calls are filled by the model.

The template renders incrementally; when it reaches a slot, everything rendered so far is
the slot's prompt, and the value generated becomes part of the text (and of the prompts of
the slots after it). Values are readable later as `slots.NAME`. `role("user")` and friends
wrap text in the model's own chat format; a role is closed by the next `role(...)` or by
`end_role()`. `cache_point()` marks the end of the static prefix, whose KV state later
processes restore from disk instead of prefilling it. Variables are data: they are
inserted into the text, never evaluated as template code, and templates run in jinja2's
sandbox.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from docqa.errors import DocqaError, GenerationError, TemplateError, UsageError
from docqa.guide.slots import Slot, make_slot
from docqa.guide.types import Fill, Generator

ROLES = ("system", "user", "assistant")
Listen = Callable[[str, str], None] | None  # (slot name, its text so far)
MAX_RENDERED_CHARS = 10_000_000  # a prompt, however generous, is far shorter


@dataclass
class ProgramResult:
    text: str  # the whole filled template
    slots: dict[str, object]  # values by name (schema slots parsed into JSON values)
    fills: list[Fill] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def tokens(self) -> dict[str, int]:
        cached = [f.cached_tokens for f in self.fills]
        return {
            "prompt": sum(f.prompt_tokens for f in self.fills),
            # None: the model server does not say how much of the prompt it had cached
            "cached": None if None in cached else sum(cached),  # type: ignore[arg-type]
            "completion": sum(f.completion_tokens for f in self.fills),
        }

    @property
    def timings(self) -> dict[str, float]:
        generate = sum(f.seconds for f in self.fills)
        return {
            "generate": generate,
            "template": max(0.0, self.seconds - generate),
            "total": self.seconds,
        }


class _Run:
    """The state of one execution: text so far, open role, filled slots."""

    def __init__(self, generator: Generator, heal: bool = True, listen: Listen = None):
        self.generator = generator
        self.heal = heal
        self.listen = listen
        self.pieces: list[str] = []
        self.slots: dict[str, object] = {}
        self.fills: list[Fill] = []
        self.open_role: str | None = None
        self.cache_points: list[str] = []
        self._markers: dict[str, tuple[str, str]] | None = None

    @property
    def markers(self) -> dict[str, tuple[str, str]]:
        if self._markers is None:
            self._markers = self.generator.role_markers()
        return self._markers

    def text(self) -> str:
        return "".join(self.pieces)

    # -- template functions ----------------------------------------------------------------
    def gen(
        self,
        name: str,
        max_tokens: int | None = None,
        stop=None,
        regex: str | None = None,
        schema=None,
        temperature: float = 0.0,
        beams: int = 1,
    ) -> str:
        slot = make_slot(
            name,
            max_tokens=max_tokens,
            stop=stop,
            regex=regex,
            schema=schema,
            temperature=temperature,
            beams=beams,
        )
        return self._fill(slot)

    def select(self, name: str, options, max_tokens: int | None = None) -> str:
        if isinstance(options, str) or not options:
            raise TemplateError(f"select({name!r}, ...) needs a list of options")
        return self._fill(make_slot(name, choices=list(options), max_tokens=max_tokens))

    def role(self, name: str) -> str:
        if name not in ROLES:
            raise TemplateError(f"role must be one of {', '.join(ROLES)}, not {name!r}")
        closing = self.end_role()
        self.open_role = name
        return closing + self.markers[name][0]

    def cache_point(self) -> str:
        """Mark the end of a reusable prefix (the static instructions; a conversation's
        history): its KV state is kept on disk and restored by later processes instead of
        being prefilled. The longest one saved is restored."""
        text = self.text()
        if text and (not self.cache_points or self.cache_points[-1] != text):
            self.cache_points.append(text)
        return ""

    @property
    def cache_prefix(self) -> tuple[str, ...] | None:
        return tuple(self.cache_points) or None

    def end_role(self) -> str:
        if self.open_role is None:
            return ""
        closing = self.markers[self.open_role][1]
        self.open_role = None
        return closing

    def _fill(self, slot: Slot) -> str:
        if slot.name in self.slots:
            raise TemplateError(f"slot {slot.name!r} is filled twice")
        prompt = self.text()
        opener = self.markers["assistant"][0]
        if self.open_role == "assistant" and opener and prompt.endswith(opener):
            # an empty assistant turn is left open: the model's own generation prompt
            prompt = prompt[: -len(opener)] + self.markers["generation"][0]
        # no healing right after a chat marker: the text there is the format's, not the user's
        after_marker = any(prompt.endswith(p) for p, _ in self.markers.values() if p)
        heal = self.heal and not after_marker
        if slot.beams > 1:
            fill = self.generator.fill_beams(
                prompt, slot, slot.beams, heal=heal, cache_prefix=self.cache_prefix
            )[0]
        else:
            listen = self.listen
            fill = self.generator.fill(
                prompt,
                slot,
                heal=heal,
                cache_prefix=self.cache_prefix,
                on_text=None if listen is None else lambda text: listen(slot.name, text),
            )
        self.fills.append(fill)
        value: object = fill.text
        if slot.schema_json is not None:
            try:
                value = json.loads(fill.text)
            except ValueError as exc:
                raise GenerationError(f"slot {slot.name!r} produced invalid JSON: {exc}") from exc
        self.slots[slot.name] = value
        return fill.text


@dataclass(frozen=True)
class Program:
    """A template program: its source and where it came from."""

    source: str
    label: str

    @cached_property
    def _template(self):
        """Compiled once: beam search runs the program again for every beam and slot."""
        from docqa.guide.sandbox import environment

        return environment().from_string(self.source)

    def run(
        self,
        generator: Generator,
        variables: Mapping[str, object],
        *,
        heal: bool = True,
        listen: Listen = None,
    ) -> ProgramResult:
        """Render the template, filling its slots; `listen(name, text)` is told each slot's
        text as the model writes it."""
        from jinja2 import TemplateError as JinjaError

        started = time.perf_counter()
        run = _Run(generator, heal=heal, listen=listen)
        functions = {
            "gen": run.gen,
            "select": run.select,
            "role": run.role,
            "end_role": run.end_role,
            "cache_point": run.cache_point,
            "slots": run.slots,
        }
        reserved = functions.keys() & variables.keys()
        if reserved:
            raise UsageError(f"variable names reserved by templates: {', '.join(sorted(reserved))}")
        context = {**variables, **functions}
        size = 0
        try:
            for piece in self._template.generate(context):
                run.pieces.append(piece)
                size += len(piece)
                if size > MAX_RENDERED_CHARS:
                    raise TemplateError(
                        f"template {self.label}: its text grew past {MAX_RENDERED_CHARS:,} "
                        "characters"
                    )
        except DocqaError:
            raise
        except JinjaError as exc:
            where = f" line {exc.lineno}" if getattr(exc, "lineno", None) else ""
            raise TemplateError(f"template {self.label}{where}: {exc.message or exc}") from exc
        except MemoryError:
            raise TemplateError(
                f"template {self.label}: it needs more memory than there is"
            ) from None
        except RecursionError:
            raise TemplateError(f"template {self.label}: it calls itself without end") from None
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
            message = str(exc).replace("_Run.", "")
            raise TemplateError(f"template {self.label}: {message}") from exc
        return ProgramResult(
            text=run.text(), slots=run.slots, fills=run.fills, seconds=time.perf_counter() - started
        )
