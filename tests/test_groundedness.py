"""Groundedness of answer sentences: facts, verbatim support, calibrated semantic support."""

from __future__ import annotations

import numpy as np
import pytest

from docqa.flows.groundedness import (
    NULL_DRAWS,
    build_pool,
    check,
    facts,
    missing_facts,
    split_sentences,
)
from tests.fakes import FakeEmbedder

SOURCE = (
    "The Eiffel Tower was inaugurated on 31 March 1889. It is 330 metres tall, and "
    'Gustave Eiffel called it "la tour de trois cents mètres". Visitors climb 674 steps.'
)
UNRELATED = [
    ("bees.txt", "Honey bees communicate with a waggle dance. A hive holds 20,000 bees."),
    ("bread.txt", "Bread rises because yeast makes carbon dioxide. Bake it for forty minutes."),
    ("moon.txt", "Apollo 11 landed in the Sea of Tranquility. Armstrong stepped out first."),
    ("rain.txt", "Clouds form when water vapour cools. Rain falls when droplets grow heavy."),
    ("jazz.txt", "Jazz began in New Orleans. Improvisation is at its heart, with swing rhythm."),
    ("chess.txt", "Chess is played on sixty four squares. The queen is the strongest piece."),
    ("tea.txt", "Tea is brewed from leaves of Camellia sinensis. Green tea is not oxidised."),
    ("volcano.txt", "Volcanoes erupt when magma rises. Lava cools into basalt and other rock."),
    ("sharks.txt", "Sharks have skeletons of cartilage. Many species must swim to breathe."),
    ("rome.txt", "Rome was founded, legend says, by Romulus. Its empire spanned the sea."),
    ("piano.txt", "A piano has eighty eight keys. Hammers strike strings when keys are pressed."),
]


@pytest.fixture
def pool():
    return build_pool(UNRELATED * 2, FakeEmbedder())


def test_facts_are_numbers_names_and_quotes_in_reading_order():
    sentence = 'In 1889 the tower, built by Gustave Eiffel, was called "the iron lady" in Paris.'
    assert facts(sentence) == ["1889", "Gustave", "Eiffel", "the iron lady", "Paris"]
    assert facts("Paris is large.") == []  # a capital that starts a sentence is not a name
    assert facts("It has 20,000 bees and costs 1.5 euros.") == ["20000", "1.5"]


def test_missing_facts_ignore_case_accents_and_thousands_separators():
    assert missing_facts("It is 330 metres tall.", SOURCE) == []
    assert missing_facts("It is 331 metres tall.", SOURCE) == ["331"]
    assert missing_facts("It opened in 1889 under Napoleon.", SOURCE) == ["Napoleon"]
    assert missing_facts("The name was 'la tour de trois cents metres'.", SOURCE) == []
    assert missing_facts("They climb 674 steps.", "They climb 674 steps.") == []
    assert missing_facts("It has 20000 bees.", "A hive holds 20,000 bees.") == []
    assert missing_facts("Climb 74 steps.", SOURCE) == ["74"]  # 74 is not part of 674


def test_split_sentences_keeps_every_sentence():
    assert split_sentences(SOURCE) == [
        "The Eiffel Tower was inaugurated on 31 March 1889.",
        'It is 330 metres tall, and Gustave Eiffel called it "la tour de trois cents mètres".',
        "Visitors climb 674 steps.",
    ]
    assert split_sentences("One.\n\n- two\n***") == ["One.", "- two"]


def test_verbatim_sentence_is_supported(pool):
    g = check("Visitors climb 674 steps.", [(1, "eiffel.txt", SOURCE)], FakeEmbedder(), pool)
    [s] = g.sentences
    assert (s.supported, s.how, s.source, g.status, g.score) == (True, "verbatim", 1, "grounded", 1)


def test_paraphrase_sharing_the_facts_is_supported_by_calibration(pool):
    answer = "The Eiffel Tower was inaugurated in March 1889."
    g = check(answer, [(1, "eiffel.txt", SOURCE)], FakeEmbedder(), pool)
    [s] = g.sentences
    assert (s.supported, s.how) == (True, "semantic")
    assert s.p is not None and s.p <= 0.05 and s.score > s.threshold
    assert s.nearest == "The Eiffel Tower was inaugurated on 31 March 1889."


def test_unrelated_sentence_and_invented_fact_are_unsupported(pool):
    g = check(
        "Jazz improvisation has a swing rhythm. The tower is 330 metres tall and was built in "
        "1901.",
        [(1, "eiffel.txt", SOURCE)],
        FakeEmbedder(),
        pool,
    )
    jazz, tower = g.sentences
    assert (jazz.supported, tower.supported, g.status, g.score) == (False, False, "ungrounded", 0)
    assert jazz.p is not None and jazz.p > 0.05 and jazz.missing == ()
    assert tower.missing == ("1901",) and "not in the sources: 1901" in tower.reason()


def test_a_name_in_a_shown_heading_is_not_an_invented_fact(pool):
    answer = "The Eiffel Tower in Paris was inaugurated in March 1889."
    sources = [(1, "eiffel.txt", SOURCE)]
    [alone] = check(answer, sources, FakeEmbedder(), pool).sentences
    assert (alone.supported, alone.missing) == (False, ("Paris",))
    [given] = check(
        answer, sources, FakeEmbedder(), pool, given="eiffel.txt Landmarks > Paris"
    ).sentences
    assert (given.supported, given.how, given.missing) == (True, "semantic", ())


def test_the_cited_documents_own_sentences_are_left_out_of_the_null(pool):
    # a pool made only of the cited document cannot calibrate anything
    own = build_pool([("eiffel.txt", SOURCE)] * 10, FakeEmbedder())
    g = check("The tower opened in March 1889.", [(1, "eiffel.txt", SOURCE)], FakeEmbedder(), own)
    [s] = g.sentences
    assert (s.p, s.threshold, s.supported) == (None, None, False)
    assert s.reason() == "too few unrelated sentences to calibrate against"


def test_p_values_are_never_zero_and_deterministic(pool):
    answer = "The Eiffel Tower was inaugurated on 31 March 1889 in Paris."
    a = check(answer, [(1, "eiffel.txt", SOURCE)], FakeEmbedder(), pool)
    b = check(answer, [(1, "eiffel.txt", SOURCE)], FakeEmbedder(), pool)
    assert a == b
    assert a.sentences[0].p >= 1 / (NULL_DRAWS + 1)


def test_no_sources_nothing_supported(pool):
    g = check("Something happened in 1889.", [], FakeEmbedder(), pool)
    assert g.status == "ungrounded" and g.sentences[0].source is None


def test_pool_vectors_match_sentences():
    p = build_pool(UNRELATED, FakeEmbedder())
    assert len(p.sentences) == len(p.documents) == len(p.vectors) == 22
    assert np.allclose(np.linalg.norm(p.vectors, axis=1), 1.0, atol=1e-5)
    assert len(p.excluding({"bees.txt", "tea.txt"})) == 18


def test_an_empty_answer_is_not_grounded(pool):
    from docqa.flows.validate import validate
    from docqa.records import Hit

    hit = Hit(chunk_id=1, path="eiffel.txt", text=SOURCE, score=1.0)
    q = FakeEmbedder().embed(["When was the tower inaugurated?"])[0]
    verdicts, g, _ = validate(
        question_vector=q,
        answer="",
        answerable=True,
        citations=[1],
        hits=[hit],
        embedder=FakeEmbedder(),
        pool=pool,
    )
    assert g.sentences == () and g.status == "ungrounded"
    assert {v.name: (v.ok, v.reason) for v in verdicts}["grounded"] == (
        False,
        "the answer is empty",
    )


def test_verbatim_means_whole_words(pool):
    for partial in ("Visitors climb 67.", "It is 33.", "Visitors climb 674 step."):
        g = check(partial, [(1, "eiffel.txt", SOURCE)], FakeEmbedder(), pool)
        assert g.sentences[0].how != "verbatim", partial
    assert missing_facts("It is 3 metres.", "It is 3.5 metres.") == ["3"]
    assert missing_facts("It is 3.5 metres.", "It is 3.5 metres.") == []


def test_citations_follow_the_source_that_supports_the_answer(pool):
    from docqa.flows.validate import validate
    from docqa.records import Hit

    other = Hit(chunk_id=1, path="bees.txt", text=UNRELATED[0][1], score=2.0)
    eiffel = Hit(chunk_id=2, path="eiffel.txt", text=SOURCE, score=1.0)
    question = "When was the tower inaugurated?"
    for given in ([1], []):  # cited wrongly, or not at all: cited as its support says
        verdicts, g, cited = validate(
            question=question,
            question_vector=FakeEmbedder().embed([question])[0],
            answer="The Eiffel Tower was inaugurated on 31 March 1889.",
            answerable=True,
            citations=given,
            hits=[other, eiffel],
            embedder=FakeEmbedder(),
            pool=pool,
        )
        assert cited == (2,) and g.status == "grounded"
        assert {v.name: (v.ok, v.reason) for v in verdicts}["citations"] == (
            True,
            f"cites [2] (the model cited {given})",
        )


def test_a_supported_sentence_that_does_not_answer_is_rejected(pool):
    from docqa.flows.validate import validate
    from docqa.records import Hit

    eiffel = Hit(chunk_id=2, path="eiffel.txt", text=SOURCE, score=1.0)
    question = "When was the Eiffel Tower inaugurated?"
    verdicts, g, _ = validate(
        question=question,
        question_vector=FakeEmbedder().embed([question])[0],
        answer="Visitors climb 674 steps.",
        answerable=True,
        citations=[1],
        hits=[eiffel],
        embedder=FakeEmbedder(),
        pool=pool,
    )
    assert g.status == "grounded"
    assert {v.name: (v.ok, v.reason) for v in verdicts}["answers"] == (
        False,
        "the question asks for a year, date or version and the answer holds none",
    )


def test_facts_include_the_terms_a_reader_copies():
    assert facts("Set io_method in postgresql.conf, or pass -D.") == [
        "io_method",
        "postgresql.conf",
        "-D",
    ]
    assert facts("ACCESS EXCLUSIVE is taken at 1,600 columns.") == ["ACCESS", "EXCLUSIVE", "1600"]


def test_an_option_no_source_holds_leaves_the_sentence_unsupported(pool):
    source = "To turn on data checksums, run initdb with the --data-checksums option."
    wrong = check(
        "Run initdb with the --enable-checksums option.",
        [(1, "initdb.txt", source)],
        FakeEmbedder(),
        pool,
    )
    assert [(s.supported, s.missing) for s in wrong.sentences] == [(False, ("--enable-checksums",))]
    right = check(
        "Run initdb with the --data-checksums option.",
        [(1, "initdb.txt", source)],
        FakeEmbedder(),
        pool,
    )
    assert [(s.supported, s.how) for s in right.sentences] == [(True, "verbatim")]
