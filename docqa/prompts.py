"""Prompt templates: jinja2 files rendered in a sandbox into chat messages.

A template names a file in the shipped templates folder ("qa" -> qa.j2) or a path. Its
blocks named for a chat role (`system`, `user`, `assistant`, optionally with a suffix such as
`user_example`) become chat messages in template order, so a template can hold few-shot
examples; a template without such blocks is one user message. Documents, questions and
other variables are data inserted into the template, never template code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from docqa.errors import TemplateError


def templates_dir() -> Path:
    """The shipped templates: inside the installed package, or the repo's templates/ folder."""
    packaged = Path(str(files("docqa"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Prompt:
    template: str  # the name or path it came from
    messages: tuple[dict[str, str], ...]

    @property
    def sha256(self) -> str:
        h = hashlib.sha256()
        for m in self.messages:
            h.update(m["role"].encode() + b"\0" + m["content"].encode() + b"\0")
        return h.hexdigest()


@lru_cache(maxsize=1)
def environment():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False
    )


def resolve_template(name: str) -> tuple[str, Path]:
    """(display name, file) for a template name or path."""
    candidate = Path(name).expanduser()
    if candidate.suffix or "/" in name or candidate.is_file():
        if not candidate.is_file():
            raise TemplateError(f"template file not found: {candidate}")
        return str(candidate), candidate
    shipped = templates_dir() / f"{name}.j2"
    if not shipped.is_file():
        available = ", ".join(sorted(p.stem for p in templates_dir().glob("*.j2")))
        raise TemplateError(f"no template named {name!r} (shipped: {available or 'none'})")
    return name, shipped


def render_prompt(name: str, variables: dict[str, object]) -> Prompt:
    from jinja2 import TemplateError as JinjaError

    label, path = resolve_template(name)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    env = environment()
    try:
        template = env.from_string(source)
        context = template.new_context(dict(variables))
        messages = []
        for block, render_block in template.blocks.items():
            role = block.split("_", 1)[0]
            if role not in _ROLES:
                continue
            text = "".join(render_block(context)).strip()
            if text:
                messages.append({"role": role, "content": text})
        if not messages:
            messages.append({"role": "user", "content": template.render(variables).strip()})
    except JinjaError as exc:
        where = f" line {exc.lineno}" if getattr(exc, "lineno", None) else ""
        raise TemplateError(f"template {label}{where}: {exc.message or exc}") from exc
    return Prompt(template=label, messages=tuple(messages))


def load_program(name: str):
    """The template program for a name or path (see docqa.guide.program)."""
    from docqa.guide.program import Program

    label, path = resolve_template(name)
    try:
        return Program(source=path.read_text(encoding="utf-8"), label=label)
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
