"""Extractive answers, every word of them from the documents.

`--mode extractive` answers with the source sentences that support the model's own answer
(`copy_of`). The extractive template (`--template extractive`) instead lets the model only
choose one sentence copied from the retrieved sources, each tagged with its source: candidate
sentences are cut from the retrieved chunks and the ones closest to the question
(by the embedder) are offered; a last choice says the documents do not answer. A chunk's own
headings ("26.3.3.1. Backing Up the Data Directory") and bare cross-references ("See Section
38.17.2 for more information.") are never offered: they name where an answer is, not what it
is, and a small model picked them often (bench/checks.py).
"""

from __future__ import annotations

import re

import numpy as np

from docqa.flows import context
from docqa.flows.groundedness import normalise
from docqa.flows.responsive import points_elsewhere
from docqa.ingest.chunker import HEADING_SEPARATOR
from docqa.ingest.passages import sentence_spans
from docqa.records import Grounding, Hit, PassageVectors

NOT_FOUND = "The documents do not say."
MAX_CANDIDATES = 12
MIN_SHOWN = 3
MAX_SENTENCE_CHARS = 300
_CHOICE = re.compile(r"^\[(\d+)\] (.*)$", re.S)


def sentences(text: str) -> list[str]:
    """Verbatim sentences of a chunk (markup lines such as headings included as they are),
    cut as groundedness cuts them."""
    return [text[a:b][:MAX_SENTENCE_CHARS] for a, b in sentence_spans(text)]


def candidates(
    question_vector: np.ndarray,
    hits: tuple[Hit, ...],
    embedder,
    passages: dict[int, PassageVectors] | None = None,
    shown: list[str] | None = None,
) -> list[str]:
    """Up to MAX_CANDIDATES choices "[n] sentence", closest to the question first, then the
    not-found choice "[0] ...". Sentences stored with vectors at ingest (`passages`) are
    scored by those; the others are embedded now. With `shown` (the text the model sees of
    each source), only sentences it can read are offered, unless fewer than MIN_SHOWN are."""
    q = np.asarray(question_vector, dtype=np.float32)
    scored: dict[str, tuple[float, int]] = {}  # sentence -> (similarity, source number)
    fresh: list[tuple[int, str]] = []
    queued: set[str] = set()
    for n, hit in enumerate(hits, start=1):
        passage = (passages or {}).get(hit.chunk_id)
        if passage is not None and passage.sentences is not None and len(passage.spans):
            spans = context.sentence_units(hit.text, passage)
            for (a, b), sim in zip(spans, passage.sentences @ q, strict=True):
                text = " ".join(hit.text[a:b].split())[:MAX_SENTENCE_CHARS]
                if text not in scored:
                    scored[text] = (float(sim), n)
        else:
            for s in sentences(hit.text):
                if s not in scored and s not in queued:
                    queued.add(s)
                    fresh.append((n, s))
    if fresh:
        vectors = embedder.embed([s for _, s in fresh])
        for (n, s), sim in zip(fresh, vectors @ q, strict=True):
            scored.setdefault(s, (float(sim), n))
    headings = {n: heading_names(hit.heading) for n, hit in enumerate(hits, start=1)}
    order = sorted(
        (
            (s, v)
            for s, v in scored.items()
            if normalise(s) not in headings[v[1]] and not points_elsewhere(s)
        ),
        key=lambda kv: -kv[1][0],
    )
    if shown is not None:
        visible = [(s, v) for s, v in order if s in " ".join(shown[v[1] - 1].split())]
        if len(visible) >= MIN_SHOWN:
            order = visible
    order = order[:MAX_CANDIDATES]
    return [f"[{n}] {s}" for s, (_, n) in order] + [f"[0] {NOT_FOUND}"]


def copy_of(grounding: Grounding) -> str:
    """The source sentences that support an answer's sentences, each once, in the answer's
    order: what an extractive ask answers, every word from the documents ("" when no
    sentence of the answer is supported)."""
    kept = dict.fromkeys(
        s.nearest.strip().removeprefix("...").removesuffix("...").strip()
        for s in grounding.sentences
        if s.supported and s.nearest.strip()
    )
    return " ".join(k for k in kept if k)


def heading_names(heading: str) -> set[str]:
    """Each heading of a chunk's heading path ("A > B · A > C"), with and without its section
    number, in groundedness.normalise's form (the form candidates are compared in)."""
    names = set()
    for part in re.split(f" > |{re.escape(HEADING_SEPARATOR)}", heading):
        if part.strip():
            names |= {normalise(part), normalise(_NUMBERED.sub("", part))}
    return names


_NUMBERED = re.compile(r"^\s*(?:[A-Z]\.)?\d+(?:\.\d+)*\.?\s+")


def reply_from_choice(choice: str) -> dict:
    """The ask reply for a chosen candidate."""
    m = _CHOICE.match(choice)
    if m is None or m.group(1) == "0":
        return {"answer": NOT_FOUND, "citations": [], "answerable": False}
    return {"answer": m.group(2), "citations": [int(m.group(1))], "answerable": True}
