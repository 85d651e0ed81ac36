"""The journal's records: every kind of step survives the store and reads back as itself."""

from __future__ import annotations

import json

import pytest

from docqa import journal
from docqa.journal import (
    AnswerStep,
    Embed,
    Features,
    Generate,
    Guard,
    Opening,
    Outcome,
    Prompt,
    Recorder,
    Retrieve,
    RetrievedHit,
    Rewrite,
    Source,
    Step,
    Unknown,
    Validate,
    read_data,
)
from docqa.store import Store

ONE_OF_EACH = [
    Features("zoe", {"language": "French", "level": 3}, ["hr", "legal"]),
    Embed(384),
    Retrieve(
        2,
        ["Who built it?", "Eiffel Tower builder"],
        (
            RetrievedHit(7, 1.42, 0.61, 1, 3, 0.72, 0.8, 1.9, [10, 52]),
            RetrievedHit(9, 0.9, None, None, 1, None, 1.0, 0.9, None),
        ),
    ),
    Guard({"outlier": {"flagged": False, "score": 0.2}, "toxic_question": {"flagged": False}}),
    Rewrite(2, "Eiffel Tower builder", {"prompt": 80, "cached": 0, "completion": 7}, [{"a": 1}]),
    Prompt(1, "qa", "ab" * 32, {"type": "object"}, "<system>...</system>"),
    Generate(1, {"prompt": 900, "cached": 640, "completion": 21}, [{"name": "reply"}]),
    Validate(
        attempt=1,
        strategy="initial",
        template="qa",
        queries=["Who built it?"],
        answer="Gustave Eiffel's company.",
        answerable=True,
        citations=[1],
        cited=[{"n": 1, "chunk_id": 7, "path": "/d/eiffel.txt"}],
        passed=False,
        reason="grounded: 0 of 1 sentences supported",
        verdicts={"grounded": {"ok": False, "reason": "0 of 1"}},
        grounding={"status": "ungrounded", "score": 0.0, "sentences": []},
        seconds=0.0123,
        tokens={"prompt": 900, "cached": 640, "completion": 21},
        next="rewrite",
    ),
    AnswerStep("partially_grounded", 2, [1, 3]),
]


def test_every_step_kind_has_a_record_here():
    assert {type(d) for d in ONE_OF_EACH} == set(journal.KINDS.values())
    assert [d.stage for d in ONE_OF_EACH] == list(journal.KINDS)


@pytest.mark.parametrize("data", ONE_OF_EACH, ids=lambda d: d.stage)
def test_each_step_kind_round_trips_through_json(data):
    text = json.dumps(data.to_json())
    assert read_data(data.stage, json.loads(text)) == data


def test_steps_round_trip_through_the_store_in_order(tmp_path):
    store = Store.open(tmp_path / "docqa.db")
    rec = Recorder(store.journal)
    rec.begin(Opening("Who built the Eiffel Tower?", user="zoe", k=5))
    for n, data in enumerate(ONE_OF_EACH):
        rec.step(data, seconds=n / 10)
    rec.finish(Outcome("grounded", answer="Eiffel's company.", attempts=2, flags={"x": 1}))
    back = store.journal.steps(rec.id)
    assert back == [Step(d, n / 10, n) for n, d in enumerate(ONE_OF_EACH)]
    assert [s.stage for s in back] == [d.stage for d in ONE_OF_EACH]
    row = store.journal.record(rec.id)
    assert (row["question"], row["user"], row["k"], row["status"]) == (
        "Who built the Eiffel Tower?",
        "zoe",
        5,
        "grounded",
    )
    assert (row["answer"], row["attempts"], row["flags"]) == ("Eiffel's company.", 2, {"x": 1})
    assert row["error"] is None  # fields an outcome leaves None are not written


def test_a_disabled_recorder_writes_nothing(tmp_path):
    store = Store.open(tmp_path / "docqa.db")
    rec = Recorder(store.journal, enabled=False)
    rec.begin(Opening("Anything?"))
    rec.step(Embed(8))
    rec.finish(Outcome("grounded"))
    assert rec.id is None and store.journal.interactions(everyone=True) == []


def test_a_step_from_an_older_docqa_reads_with_defaults_and_an_unknown_one_is_kept():
    old = read_data("retrieve", {"attempt": 1, "hits": [{"chunk_id": 4, "score": 0.5}]})
    assert old == Retrieve(1, [], (RetrievedHit(4, 0.5),))
    assert read_data("validate", {"attempt": 1, "passed": True}) == Validate(attempt=1, passed=True)
    future = read_data("critique", {"verdict": "fine", "n": 2})
    assert future == Unknown("critique", {"verdict": "fine", "n": 2})
    assert Step(future, 0.1, 3).to_json() == {
        "seq": 3,
        "stage": "critique",
        "seconds": 0.1,
        "data": {"verdict": "fine", "n": 2},
    }


def test_a_resolved_hit_shows_where_its_chunk_is_or_that_it_is_gone():
    hit = RetrievedHit(7, 1.0, 0.6)
    found = RetrievedHit(7, 1.0, 0.6, source=Source("/d/a.txt", "lines 1-3", "Intro", "Text."))
    found = journal.dataclasses.replace(found, available=True)
    assert found.to_json() == {
        **hit.to_json(),
        "path": "/d/a.txt",
        "where": "lines 1-3",
        "heading": "Intro",
        "text": "Text.",
        "available": True,
    }
    assert RetrievedHit.from_json(found.to_json()) == found
    gone = journal.dataclasses.replace(hit, available=False)
    assert gone.to_json() == {**hit.to_json(), "path": None, "text": None, "available": False}
    assert "available" not in hit.to_json()  # as recorded: scores only


def test_a_record_from_an_older_docqa_is_shown_exactly_as_it_was_stored(tmp_path):
    """Keys this docqa has no field for are kept, and fields the record lacks are not
    invented: trace --json shows what was written."""
    old_prompt = {"attempt": 1, "template": "qa", "messages": [{"role": "user", "content": "Q"}]}
    old_generate = {"prompt_tokens": 90, "completion_tokens": 4, "finish_reason": "stop"}
    old_retrieve = {"hits": [{"chunk_id": 4, "score": 0.5, "dense_rank": 1}]}
    for stage, data in (("prompt", old_prompt), ("generate", old_generate)):
        assert read_data(stage, data).to_json() == data
    retrieve = read_data("retrieve", old_retrieve)
    assert retrieve.to_json() == old_retrieve and retrieve.attempt is None
    assert retrieve.hits[0].dense_rank == 1 and retrieve.hits[0].sentence_score is None
    resolved = journal.dataclasses.replace(
        retrieve.hits[0], source=Source("/d/a.txt", "line 2", "", "Text."), available=True
    )
    assert resolved.to_json() == {
        "chunk_id": 4,
        "score": 0.5,
        "dense_rank": 1,
        "path": "/d/a.txt",
        "where": "line 2",
        "heading": "",
        "text": "Text.",
        "available": True,
    }
    # and through the store: what was written is what comes back
    store = Store.open(tmp_path / "docqa.db")
    iid = store.journal.begin({"kind": "ask", "question": "Q?"})
    with store.conn:
        store.conn.execute(
            "INSERT INTO steps (interaction_id, seq, stage, seconds, data) VALUES (?, 0, ?, 0, ?)",
            (iid, "prompt", json.dumps(old_prompt)),
        )
    [step] = store.journal.steps(iid)
    assert step.to_json() == {"seq": 0, "stage": "prompt", "seconds": 0.0, "data": old_prompt}


def test_the_store_writes_each_step_as_its_record_says(tmp_path):
    store = Store.open(tmp_path / "docqa.db")
    rec = Recorder(store.journal)
    rec.begin(Opening("Q?"))
    for data in ONE_OF_EACH:
        rec.step(data)
    rows = store.conn.execute(
        "SELECT stage, data FROM steps WHERE interaction_id = ? ORDER BY seq", (rec.id,)
    ).fetchall()
    assert [(stage, json.loads(data)) for stage, data in rows] == [
        (d.stage, d.to_json()) for d in ONE_OF_EACH
    ]


def test_reading_a_step_leaves_the_stored_data_as_it_was():
    stored = ONE_OF_EACH[2].to_json()  # a retrieve step, as ask writes it
    before = json.loads(json.dumps(stored))
    assert read_data("retrieve", stored) == ONE_OF_EACH[2]
    assert stored == before
