"""Finding templates: a name in the shipped templates folder ("qa" -> qa.j2) or a path, loaded
as a template program (docqa.guide.program; the jinja2 sandbox it runs in is
docqa.guide.sandbox).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from docqa.errors import TemplateError


def templates_dir() -> Path:
    """The shipped templates: inside the installed package, or the repo's templates/ folder."""
    packaged = Path(str(files("docqa"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


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
