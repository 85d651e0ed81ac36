"""Answers that do not answer: the wrong kind of information, restatements, loops, fragments."""

from __future__ import annotations

import pytest

from docqa.flows.responsive import expected_kind, problems, tidy


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("In what year was Python started?", "time"),
        ("When was it handed over to Panama?", "time"),
        ("Since which version does Postgres support MERGE?", "time"),
        ("When rounding, does numeric round half values the same way?", None),
        ("How many steps do visitors climb?", "number"),
        ("What's the maximum number of columns a Postgres table can have?", "number"),
        ("What is the biggest length I may declare for varchar(n)?", "number"),
        ("Who designed the tower?", "name"),
        ("Why did my table not shrink?", None),
        ("What data structure is a dict built on?", None),
    ],
)
def test_the_kind_of_information_asked_for(question, kind):
    assert expected_kind(question) == kind


@pytest.mark.parametrize(
    ("question", "answer", "why"),
    [
        (
            "What data structure is a CPython dict built on?",
            "CPython dict built on internally on internally.",
            ["it repeats itself"],
        ),
        (
            "In what year was Python started?",
            "decided to call the language Python.",
            ["the question asks for a year, date or version and the answer holds none"],
        ),
        (
            "When was the Panama Canal handed over to Panama?",
            "At the time, Panama was part of Colombia.",
            ["the question asks for a year, date or version and the answer holds none"],
        ),
        (
            "When was the Panama Canal handed over to Panama?",
            "The Panama Canal was handed over to Panama.",
            [
                "the question asks for a year, date or version and the answer holds none",
                "it only restates the question",
            ],
        ),
        (
            "When was the tower inaugurated?",
            "Visitors climb 674 steps.",
            ["the question asks for a year, date or version and the answer holds none"],
        ),
        (
            "How many columns can a table have?",
            "The documents do not say how many columns a table can have.",
            [
                "it says the sources do not answer",
                "the question asks for a number and the answer holds none",
            ],
        ),
        (
            "Who designed the tower?",
            "The tower was designed by the",
            [
                "the question asks for a name and the answer holds none",
                "it only restates the question",
                "it is cut off",
            ],
        ),
        (
            "Who designed the Eiffel Tower?",
            "The Eiffel Tower.",  # "The" opens the sentence: it names no one
            [
                "the question asks for a name and the answer holds none",
                "it only restates the question",
            ],
        ),
        ("Why did the table not shrink?", "x" * 299, ["it is cut off"]),
        (
            "Does timestamp with time zone remember the zone I inserted?",
            "Yes",
            ["a bare yes or no, with nothing the sources can confirm"],
        ),
    ],
)
def test_non_answers_are_named(question, answer, why):
    assert problems(question, answer) == why


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("When was the Panama Canal handed over to Panama?", "On 31 December 1999."),
        ("When was it handed over?", "In December of that year."),
        ("Since which version does Postgres support MERGE?", "PostgreSQL 15 added MERGE."),
        ("In what year was it opened?", "It opened in 1914."),
        ("What's the maximum number of columns a table can have?", "1600"),
        ("How many keys does a piano have?", "Eighty eight keys."),
        ("Who designed the tower?", "Gustave Eiffel's company designed it."),
        ("Who designed the Eiffel Tower?", "Gustave Eiffel"),  # a new first name is a name
        ("Who designed the Eiffel Tower?", "Gustave Eiffel."),
        ("Why did my table not shrink?", "DROP COLUMN does not physically remove the column."),
    ],
)
def test_answers_pass(question, answer):
    assert problems(question, answer) == []


def test_an_answer_flagged_unanswerable_is_judged_by_the_checks():
    from docqa.flows.reply import parse_reply

    said = {"answer": "No, SET ROLE drops the superuser rights.", "citations": [2]}
    assert parse_reply({**said, "answerable": False}) == (said["answer"], True, [2])
    refusal = {"answer": "The documents do not say.", "citations": [1], "answerable": False}
    assert parse_reply(refusal) == ("The documents do not say.", False, [])
    hedged = {"answer": "The sources do not mention it.", "citations": [], "answerable": False}
    assert parse_reply(hedged) == ("The sources do not mention it.", False, [])


CUT = (
    "To empty a table and reset its identity counters, use TRUNCATE ... RESTART IDENTITY. "
    "For example, TRUNCATE bigtable, fattable RESTART IDENTITY; then truncate the table "
)


@pytest.mark.parametrize(
    ("question", "answer", "why"),
    [
        # measured on the PostgreSQL questions: each passed the checks, and each was wrong
        (
            "What happens if I issue BEGIN in a transaction, does it nest?",
            "Yes, it nests.",
            "a bare yes or no, with nothing the sources can confirm",
        ),
        (
            "How do I generate time-ordered UUID v7 values with the uuidv7() function?",
            "The uuidv7() function generates time-ordered UUID v7 values.",
            "it only restates the question",
        ),
    ],
)
def test_the_question_said_back_in_other_word_forms_is_a_restatement(question, answer, why):
    assert problems(question, answer) == [why]


def test_an_answer_with_one_new_word_is_not_a_restatement():
    assert problems("Which lock does VACUUM FULL take?", "VACUUM FULL takes an ACCESS lock.") == []


@pytest.mark.parametrize(
    "answer",
    [
        "See Section 28.4.2 for details.",
        "See also Chapter 5.",
        "Refer to Table 9.3 for the operators.",
    ],
)
def test_a_bare_cross_reference_is_not_an_answer(answer):
    assert problems("How do I watch an index build's progress?", answer) == [
        "it only points to another part of the documents"
    ]


def test_a_sentence_that_names_a_file_to_see_is_not_a_cross_reference():
    assert problems("Which file holds the rules?", "See the pg_hba.conf file for the rules.") == []


@pytest.mark.parametrize(
    ("answer", "tidied"),
    [
        # cut off at the length limit: the unfinished sentence goes, the complete one stays
        (
            (CUT + "othertable and cascade to any tables that reference it" * 9)[:300],
            "To empty a table and reset its identity counters, use TRUNCATE ... RESTART IDENTITY.",
        ),
        # a sentence said again word for word (a decoding loop) is said once
        (
            "Use REINDEX CONCURRENTLY. It is invoked with the CONCURRENTLY option. It is "
            "invoked with the CONCURRENTLY option.",
            "Use REINDEX CONCURRENTLY. It is invoked with the CONCURRENTLY option.",
        ),
        # nothing to mend: the answer is kept as it is, even a fragment with no sentence end
        ("The answer is 1600.", "The answer is 1600."),
        ("ssl_min_protocol_version", "ssl_min_protocol_version"),
        ("x" * 299, "x" * 299),  # cut off, but no complete sentence to keep: left to problems
    ],
)
def test_tidy_drops_repeated_sentences_and_the_cut_off_tail(answer, tidied):
    assert tidy(answer, 300) == tidied


def test_a_tidied_answer_is_no_longer_cut_off():
    answer = (CUT + "othertable and cascade to any tables that reference it" * 9)[:300]
    assert "it is cut off" in problems("How do I empty a table?", answer, 300)
    assert problems("How do I empty a table?", tidy(answer, 300), 300) == []


def test_a_reply_in_separate_slots_refuses_without_a_flag_and_joins_its_support():
    from docqa.flows.reply import reply_of
    from docqa.guide.program import ProgramResult

    def reply(**slots):
        return reply_of(ProgramResult(text="", slots=slots))

    refusal = reply(answer="The documents do not say.\n", citations="none")
    assert refusal == {"answer": "The documents do not say.", "citations": [], "answerable": False}
    phrase = reply(answer="1600\n", support="A table cannot have more than 1600 columns.\n",
                   citations="[2], [3]")  # fmt: skip
    assert phrase == {
        "answer": "1600 — A table cannot have more than 1600 columns.",
        "citations": [2, 3],
        "answerable": True,
    }
    flagged = reply(answer="Yes.", citations="[1]", answerable="false")
    assert flagged["answerable"] is False
