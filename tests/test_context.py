"""What the reader sees: the best sentences of the retrieved chunks within a token budget."""

from __future__ import annotations

import numpy as np

from docqa.flows.context import CHARS_PER_TOKEN, GAP, focus
from docqa.flows.groundedness import sentence_spans
from docqa.records import Hit, PassageVectors

A = (
    "The canal opened in 1914. Ships pay tolls by size. "
    "Control passed to Panama on 31 December 1999. The Canal Authority runs it. "
    "Locks lift ships 26 metres."
)
B = "Coffee grows on shrubs. Espresso is brewed under pressure. Beans are roasted."


def _passage(text: str, scores: list[float]) -> PassageVectors:
    """Sentence vectors whose similarity to the question vector e0 is `scores`."""
    spans = tuple(sentence_spans(text, 1))
    assert len(spans) == len(scores)
    vectors = np.zeros((len(spans), 2), dtype=np.float32)
    vectors[:, 0] = scores
    return PassageVectors(np.zeros(2, np.float32), spans, vectors, 1)


def _hits():
    return [Hit(1, "a.txt", A, 2.0), Hit(2, "b.txt", B, 1.0)]


Q = np.array([1.0, 0.0], dtype=np.float32)
PASSAGES = {1: _passage(A, [0.1, 0.0, 0.9, 0.2, 0.0]), 2: _passage(B, [0.0, 0.3, 0.0])}


def test_the_best_sentence_comes_with_its_neighbours_in_document_order():
    excerpts = focus(_hits(), "When did control pass to Panama?", Q, PASSAGES, 26)
    assert [e.hit.chunk_id for e in excerpts] == [1]
    assert excerpts[0].text == (
        "... Ships pay tolls by size. Control passed to Panama on 31 December 1999. "
        "The Canal Authority runs it. ..."
    )


def test_a_budget_is_spent_on_the_next_best_sentences_and_gaps_are_marked():
    excerpts = focus(_hits(), "When did control pass to Panama?", Q, PASSAGES, 60)
    texts = {e.hit.chunk_id: e.text for e in excerpts}
    assert (
        texts[2] == "Coffee grows on shrubs. Espresso is brewed under pressure. Beans are roasted."
    )
    assert sum(len(t) for t in texts.values()) <= 60 * CHARS_PER_TOKEN + len(GAP) * 2


def test_a_tiny_budget_still_shows_the_best_sentence_alone():
    (excerpt,) = focus(_hits(), "When did control pass to Panama?", Q, PASSAGES, 12)
    assert excerpt.text == "... Control passed to Panama on 31 December 1999. ..."


def test_budget_zero_shows_every_chunk_whole():
    excerpts = focus(_hits(), "anything", Q, PASSAGES, 0)
    assert [e.text for e in excerpts] == [A, B]


def test_a_chunk_without_sentence_vectors_is_scored_by_its_words():
    hits = [Hit(1, "a.txt", A, 2.0, dense_score=0.5), Hit(2, "b.txt", B, 1.0, dense_score=0.5)]
    (excerpt,) = focus(hits, "Which espresso pressure?", Q, {}, 10)
    assert excerpt.hit.chunk_id == 2 and "Espresso is brewed under pressure." in excerpt.text
