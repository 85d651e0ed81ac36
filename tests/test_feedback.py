"""`docqa feedback`: verdicts on answers, scoped like `trace`, shown by `trace`, filtered by
`log list`, and followed by `monitor report`."""

from __future__ import annotations

import json

import pytest

from docqa.config import load_settings
from docqa.errors import DocqaError, UsageError
from docqa.flows.feedback import Rating, give_feedback
from docqa.records import ANONYMOUS, Profile
from docqa.store import Store
from tests.cli import invoke
from tests.test_answer_loop import QUESTION


def _json(*args) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def answered(ingested) -> int:
    """The id of one answer of the anonymous user."""
    return _json("ask", QUESTION)["id"]


def test_a_verdict_is_recorded_and_a_second_one_replaces_it(answered):
    first = _json("feedback", answered, "bad", "--note", "  wrong height  ")
    assert set(first) == {"interaction_id", "user", "verdict", "note", "created_at", "replaced"}
    assert (first["interaction_id"], first["user"], first["verdict"], first["note"]) == (
        answered,
        None,
        "bad",
        "wrong height",
    )
    assert first["replaced"] is None
    second = _json("feedback", answered, "good")
    assert (second["verdict"], second["note"]) == ("good", None)
    assert second["replaced"] == {k: first[k] for k in second["replaced"]}
    again = invoke("feedback", answered, "BAD", "--note", "no, wrong after all")
    assert again.exit_code == 0, again.output
    assert f"interaction {answered} rated bad by the anonymous user" in again.stdout
    assert "replaced the earlier verdict of the anonymous user: good" in again.stdout
    # one verdict per answer and rater, the anonymous one (user NULL) included
    store = Store.open(load_settings().db_path)
    assert [(f["verdict"], f["note"]) for f in store.feedback.of(answered)] == [
        ("bad", "no, wrong after all")
    ]


def test_who_may_rate_is_who_may_trace(ingested):
    _json("users", "set", "ann", "groups=hr")
    _json("users", "set", "ben", "role=x")
    mine = _json("ask", QUESTION, "--user", "ann")["id"]
    for args in (("--user", "ben"), (), ("--all-users",)):
        traced, rated = invoke("trace", mine, *args), invoke("feedback", mine, "bad", *args)
        assert rated.exit_code == traced.exit_code, args
        assert rated.stderr == traced.stderr, args
    theirs = invoke("feedback", mine, "bad", "--user", "ben")
    assert theirs.exit_code == 1
    assert theirs.stderr.strip() == (
        f"error: no interaction {mine} for user 'ben' (`docqa log list` shows them)"
    )
    assert "anonymous" in invoke("feedback", mine, "bad").stderr
    own = _json("feedback", mine, "good", "--user", "ann")
    assert (own["user"], own["verdict"]) == ("ann", "good")
    # the store's owner rates any answer, as whoever they are (here anonymous, who rated it
    # in the loop above): a verdict of their own, beside ann's
    owner = _json("feedback", mine, "bad", "--all-users", "--note", "checked: wrong")
    assert (owner["user"], owner["replaced"]["verdict"]) == (None, "bad")
    assert _json("trace", mine, "--all-users")["feedback"][1]["user"] == "ann"
    missing = invoke("feedback", 999, "good", "--all-users")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "error: no interaction 999 (`docqa log list` shows them)"
    unknown = invoke("feedback", mine, "good", "--user", "zed")
    assert unknown.exit_code == 2 and "unknown user 'zed'" in unknown.stderr
    assert invoke("feedback", mine, "meh", "--user", "ann").exit_code == 2


def test_trace_shows_every_verdict_newest_first(ingested):
    _json("users", "set", "ann", "groups=hr")
    iid = _json("ask", QUESTION, "--user", "ann")["id"]
    assert _json("trace", iid, "--user", "ann")["feedback"] == []
    _json("feedback", iid, "good", "--user", "ann", "--note", "clear")
    _json("feedback", iid, "bad", "--all-users", "--note", "cites the wrong page")
    shown = _json("trace", iid, "--user", "ann")["feedback"]
    assert [(f["user"], f["verdict"], f["note"]) for f in shown] == [
        (None, "bad", "cites the wrong page"),
        ("ann", "good", "clear"),
    ]
    assert all(f["interaction_id"] == iid and f["created_at"] for f in shown)
    human = invoke("trace", iid, "--user", "ann")
    assert human.exit_code == 0, human.output
    assert "── feedback" in human.stdout
    assert "bad · anonymous ·" in human.stdout and "cites the wrong page" in human.stdout
    assert "good · ann ·" in human.stdout


def test_log_list_filters_by_the_latest_verdict(ingested):
    good, bad, unrated = (_json("ask", f"{QUESTION} ({n})")["id"] for n in range(3))
    _json("feedback", good, "good")
    _json("feedback", bad, "good")
    _json("feedback", bad, "bad", "--note", "changed my mind")  # replaces: bad counts

    def ids(*args):
        return [r["id"] for r in _json("log", "list", *args)["interactions"]]

    assert ids("--feedback", "good") == [good]
    assert ids("--feedback", "bad") == [bad]
    assert ids("--feedback", "none") == [unrated]
    rows = {r["id"]: r["feedback"] for r in _json("log", "list")["interactions"]}
    assert rows == {good: "good", bad: "bad", unrated: None}
    assert invoke("log", "list", "--feedback", "meh").exit_code == 2
    human = invoke("log", "list")
    assert human.exit_code == 0, human.output
    lines = {li.split()[0]: li for li in human.stdout.splitlines() if li.strip()}
    assert "bad ·" in lines[str(bad)] and "good ·" in lines[str(good)]
    assert "·" not in lines[str(unrated)]


def test_the_flow_returns_the_record_chat_can_show(answered):
    store = Store.open(load_settings().db_path)
    rating = give_feedback(store, answered, "bad", "too long", user=ANONYMOUS)
    assert isinstance(rating, Rating)
    assert (rating.interaction_id, rating.user, rating.verdict, rating.note) == (
        answered,
        None,
        "bad",
        "too long",
    )
    assert rating.replaced is None
    again = give_feedback(store, answered, "good", user=ANONYMOUS)
    assert again.replaced is not None and again.replaced.verdict == "bad"
    with pytest.raises(UsageError, match="good or bad"):
        give_feedback(store, answered, "fine", user=ANONYMOUS)
    with pytest.raises(UsageError, match="at most 2,000"):
        give_feedback(store, answered, "bad", "x" * 2001, user=ANONYMOUS)
    with pytest.raises(DocqaError, match="for user 'ann'"):
        give_feedback(store, answered, "bad", user=Profile("ann"))
    running = store.journal.begin({"kind": "ask", "question": "still going?"})
    with pytest.raises(DocqaError, match="still being answered"):
        give_feedback(store, running, "bad", user=ANONYMOUS)
    assert store.feedback.of(running) == []


def test_the_feedback_table_and_its_cascade(answered):
    import sqlite_utils

    store = Store.open(load_settings().db_path)
    columns = sqlite_utils.Database(store.conn)["feedback"].columns_dict
    assert columns == {
        "id": int,
        "interaction_id": int,
        "user": str,
        "verdict": str,
        "note": str,
        "created_at": str,
    }
    give_feedback(store, answered, "good", user=ANONYMOUS)
    with store.conn:
        store.conn.execute("DELETE FROM interactions WHERE id = ?", (answered,))
    assert store.feedback.of(answered) == []


def test_monitor_report_names_the_answers_rated_bad(ingested):
    ids = [_json("ask", f"{QUESTION} ({n})")["id"] for n in range(4)]
    _json("feedback", ids[0], "good")
    _json("feedback", ids[1], "bad", "--note", "wrong")
    _json("feedback", ids[3], "bad")
    report = _json("monitor", "report", "--window", "4")
    f = report["feedback"]
    assert (f["n"], f["rated"], f["good"], f["bad"]) == (4, 3, 1, 2)
    assert f["good_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert [(b["id"], b["note"]) for b in f["worst"]] == [(ids[3], None), (ids[1], "wrong")]
    assert f["good_change"]["note"].startswith("too little data")
    human = invoke("monitor", "report", "--window", "4")
    assert human.exit_code == 0, human.output
    assert "Feedback (3 of 4 answers rated)" in human.stdout
    assert f"#{ids[3]} bad" in human.stdout and "docqa trace ID" in human.stdout
