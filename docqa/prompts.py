"""Finding templates: a name in the shipped templates folder ("qa" -> qa.j2) or a path, and
the sandboxed jinja2 environment every template program runs in (see docqa.guide.program).
"""

from __future__ import annotations

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


# The most a template may build with `*` (characters or items) or `**` (bits of a number):
# jinja2's sandbox already caps range(); these keep `{{ 'x' * 10**10 }}` from eating memory.
MAX_PRODUCT = 10_000_000


@lru_cache(maxsize=1)
def environment():
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Sandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context, operator, left, right):
            if operator == "*":
                seq, n = (left, right) if isinstance(right, int) else (right, left)
                size = len(seq) * n if isinstance(seq, (str, list, tuple)) else 0
                if isinstance(n, int) and size > MAX_PRODUCT:
                    raise SecurityError(f"a repetition of {size:,} items is too large")
            elif (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left).bit_length() * right > MAX_PRODUCT
            ):
                raise SecurityError(f"{left} ** {right} is too large a number")
            return super().call_binop(context, operator, left, right)

    return Sandbox(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


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


def load_program(name: str):
    """The template program for a name or path (see docqa.guide.program)."""
    from docqa.guide.program import Program

    label, path = resolve_template(name)
    try:
        return Program(source=path.read_text(encoding="utf-8"), label=label)
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
