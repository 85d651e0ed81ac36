"""Extractive answers: the model may only choose a sentence copied from the retrieved sources,
each tagged with its source, so every word of the answer is in the documents.

Candidate sentences are cut from the retrieved chunks and the ones closest to the question
(by the embedder) are offered; a last choice says the documents do not answer.
"""

from __future__ import annotations

import re

import numpy as np

from docqa.ingest.passages import sentence_spans
from docqa.records import Hit

NOT_FOUND = "The documents do not say."
MAX_CANDIDATES = 12
MAX_SENTENCE_CHARS = 300
_CHOICE = re.compile(r"^\[(\d+)\] (.*)$", re.S)


def sentences(text: str) -> list[str]:
    """Verbatim sentences of a chunk (markup lines such as headings included as they are),
    cut as groundedness cuts them."""
    return [text[a:b][:MAX_SENTENCE_CHARS] for a, b in sentence_spans(text)]


def candidates(question_vector: np.ndarray, hits: tuple[Hit, ...], embedder) -> list[str]:
    """Up to MAX_CANDIDATES choices "[n] sentence", closest to the question first, then the
    not-found choice "[0] ..."."""
    tagged = [(n, s) for n, hit in enumerate(hits, start=1) for s in sentences(hit.text)]
    seen, unique = set(), []
    for n, s in tagged:
        if s not in seen:
            seen.add(s)
            unique.append((n, s))
    if unique:
        vectors = embedder.embed([s for _, s in unique])
        order = np.argsort(-(vectors @ np.asarray(question_vector, dtype=np.float32)))
        unique = [unique[i] for i in order[:MAX_CANDIDATES]]
    return [f"[{n}] {s}" for n, s in unique] + [f"[0] {NOT_FOUND}"]


def reply_from_choice(choice: str) -> dict:
    """The ask reply for a chosen candidate."""
    m = _CHOICE.match(choice)
    if m is None or m.group(1) == "0":
        return {"answer": NOT_FOUND, "citations": [], "answerable": False}
    return {"answer": m.group(2), "citations": [int(m.group(1))], "answerable": True}
