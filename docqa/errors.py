"""Errors the core raises, each with a message written for the person at the terminal.

The CLI turns any DocqaError into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class DocqaError(Exception):
    """Base class: the message is shown to the user as it is."""

    exit_code = 1


class UsageError(DocqaError):
    """The command was called wrongly (empty question, bad option value)."""

    exit_code = 2


class ModelError(DocqaError):
    """A model could not be found or loaded."""


class StoreError(DocqaError):
    """The document store cannot be used as asked (empty, wrong embedder, ...)."""


class EmptyStoreError(StoreError):
    """Nothing has been ingested yet."""


class EmbedderMismatchError(StoreError):
    """The store was built by another embedder than the one in use."""


class LoaderError(DocqaError):
    """One file could not be read or parsed; ingest reports it and carries on."""


@contextmanager
def read_by_library(what: str) -> Iterator[None]:
    """Inside: a library reads a file. Whatever it raises on broken bytes (each raises what its
    XML, zip or JSON layers raise) becomes LoaderError("broken WHAT: Type: message"); a
    LoaderError of docqa's own goes through as it is."""
    try:
        yield
    except LoaderError:
        raise
    except Exception as exc:
        raise LoaderError(f"broken {what}: {type(exc).__name__}: {exc}".rstrip(": ")) from None


class GenerationError(DocqaError):
    """The language model's output could not be used."""


class TemplateError(DocqaError):
    """A prompt template is missing or broken."""


class StoreBusyError(StoreError):
    """Another process is changing the store (one writer at a time)."""
