"""Inline guards with fake models: outlier and toxic questions, toxic answers; flagged in the
answer and its record, withheld with --guard."""

from __future__ import annotations

import json

from docqa.config import load_settings
from docqa.flows.guards import MIN_REFERENCE, question_flags
from docqa.monitor.text import sentiment, toxic_words
from docqa.store import Store
from tests.cli import invoke

ON_TOPIC = [
    "How many metres tall is the Eiffel Tower?",
    "Who built the Eiffel Tower?",
    "When was the Eiffel Tower inaugurated?",
    "How many eyes does a honey bee have?",
    "What is the waggle dance of honey bees?",
    "Which enzyme fixes carbon dioxide in the Calvin cycle?",
]
NONSENSE = "Zorblax quintuple frumious bandersnatch vorpal?"


def _ask(*args, input=None) -> dict:
    result = invoke("ask", *args, "--json", input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_lexicons():
    assert toxic_words("What a stupid, stupid question, damn it") == ["stupid", "stupid", "damn"]
    assert toxic_words("you b1tch") == ["b1tch"] and not toxic_words("How tall is the tower?")
    assert sentiment("I love this wonderful tower") > 0.5 > -0.5 > sentiment("I hate this awful")


def test_a_toxic_question_is_flagged_and_withheld_with_guard(ingested, fakes):
    _, llm = fakes
    flagged = _ask("What is the stupid Eiffel Tower?")
    assert flagged["flags"]["toxic_question"] == {"flagged": True, "words": ["stupid"]}
    assert flagged["status"] == "grounded"  # without --guard it is only flagged
    llm.prompts.clear()
    withheld = _ask("What is the stupid Eiffel Tower?", "--guard")
    assert (withheld["status"], withheld["answer"], withheld["citations"]) == (
        "withheld",
        "Withheld: the question is toxic.",
        [],
    )
    assert withheld["answerable"] is False and withheld["attempts"] == []
    assert llm.prompts == []  # stopped before any generation
    row = Store.open(load_settings().db_path).journal.interaction(withheld["id"])
    assert row["status"] == "withheld"
    assert json.loads(row["flags"])["toxic_question"]["flagged"] is True
    human = invoke("ask", "What is the stupid Eiffel Tower?", "--guard")
    assert (
        "withheld by --guard" in human.stdout and "⚠ flagged: the question is toxic" in human.stdout
    )


def test_a_toxic_answer_is_withheld_with_guard(fakes, docs):
    _, llm = fakes
    rude = "The crew called the old captain a bastard behind his back."
    (docs / "pirates.txt").write_text(f"PIRATES\n\n{rude} He sailed the Caribbean.\n")
    assert invoke("ingest", docs).exit_code == 0

    def reply(prompt, slot):
        from tests.fakes import source_texts

        [n] = [n for n, t in source_texts(prompt).items() if rude in t]
        return {"answer": rude, "citations": [n], "answerable": True}

    llm.reply = reply
    question = "What did the pirate crew call the old captain behind his back?"
    flagged = _ask(question)
    assert flagged["flags"]["toxic_answer"] == {"flagged": True, "words": ["bastard"]}
    assert flagged["answer"] == rude
    withheld = _ask(question, "--guard")
    assert (
        withheld["status"] == "withheld" and withheld["answer"] == "Withheld: the answer is toxic."
    )


def test_outliers_need_enough_past_questions_then_are_withheld(ingested, fakes):
    early = _ask(NONSENSE)
    outlier = early["flags"]["outlier"]
    assert outlier["flagged"] is False and outlier["reference_n"] == 0
    assert outlier["note"] == f"too little data: 0 past questions, {MIN_REFERENCE} needed"
    past = (ON_TOPIC * 6)[: MIN_REFERENCE + 1]
    lines = invoke("ask", "-", input="\n".join(past))
    assert lines.exit_code == 0
    flagged = _ask(NONSENSE)["flags"]["outlier"]
    assert flagged["flagged"] is True and flagged["reference_n"] == MIN_REFERENCE + 2
    assert flagged["score"] > flagged["threshold"]
    assert _ask(ON_TOPIC[0])["flags"]["outlier"]["flagged"] is False
    withheld = _ask(NONSENSE, "--guard")
    assert withheld["status"] == "withheld"
    assert withheld["answer"].startswith("Withheld: the question is far from the documents")


def test_question_flags_threshold_is_the_reference_quantile():
    reference = [0.1 + 0.01 * i for i in range(40)]
    flags = question_flags("fine question", 0.6, reference)
    assert flags["outlier"]["flagged"] is True
    assert abs(flags["outlier"]["threshold"] - 0.4861) < 1e-3
    assert question_flags("fine question", 0.45, reference)["outlier"]["flagged"] is False
