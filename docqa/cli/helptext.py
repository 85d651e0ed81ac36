"""Help texts that read as prose: docstrings' hard line breaks joined into paragraphs, and no
type label after a flag (a flag takes no value: `--json`, not `--json <bool>`)."""

from __future__ import annotations

import inspect

import typer


def prose(text):
    """A docstring as paragraphs: the lines of each paragraph joined with spaces (a paragraph
    whose lines are indented, like a list of commands, keeps its lines). Anything but a
    string (None, Typer's placeholder for "not given") is left as it is."""
    if not isinstance(text, str):
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        p if any(line.startswith(" ") for line in p.splitlines()[1:]) else " ".join(p.split())
        for p in paragraphs
    )


def tidy(app: typer.Typer) -> None:
    """Give every command and group of `app`, and of the apps under it, prose help."""
    for command in app.registered_commands:
        command.help = prose(command.help or (command.callback and command.callback.__doc__))
    for group in app.registered_groups:
        group.help = prose(group.help)
        sub = group.typer_instance
        if sub is not None:
            sub.info.help = prose(sub.info.help)
            tidy(sub)
    no_flag_types()


def no_flag_types() -> None:
    """Typer labels every option with its type, flags too; a flag's label says nothing."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "docqa_flags_hidden", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag else shown(self, ctx)

    display_type_rich.docqa_flags_hidden = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
