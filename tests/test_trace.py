"""`docqa trace` and `docqa log list` with fake models: the whole flow of one answer, scoped to
the viewer."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from docqa.errors import UsageError
from docqa.timespec import parse_since
from tests.cli import invoke
from tests.test_answer_loop import QUESTION, copied, scripted


def _json(*args) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def two_attempts(ingested, fakes):
    """An answer rejected once (an invented number), then grounded."""
    _, llm = fakes
    invented = {"answer": "The tower is 999 metres tall.", "citations": [1], "answerable": True}
    llm.reply = scripted(invented, copied)
    return _json("ask", QUESTION)


def test_trace_json_shows_every_stage_of_every_attempt(two_attempts):
    data = _json("trace", two_attempts["id"])
    row = data["interaction"]
    assert "question_embedding" not in row
    assert data["feedback"] == []  # no one rated it (`docqa feedback`)
    assert (row["id"], row["question"], row["status"], row["attempts"]) == (
        two_attempts["id"],
        QUESTION,
        "grounded",
        2,
    )
    assert row["raw_output"][0]["answer"] == "The tower is 999 metres tall."
    stages = [(s["stage"], s["data"].get("attempt")) for s in data["steps"]]
    assert stages == [
        ("features", None),
        ("embed", None),
        ("retrieve", 1),
        ("guard", None),
        ("prompt", 1),
        ("generate", 1),
        ("validate", 1),
        ("rewrite", 2),
        ("retrieve", 2),
        ("prompt", 2),
        ("generate", 2),
        ("validate", 2),
        ("answer", 2),
    ]
    retrieve = data["steps"][2]["data"]
    assert retrieve["queries"] == [QUESTION]
    top = retrieve["hits"][0]
    assert top["available"] is True and top["path"].endswith("eiffel_tower.txt")
    assert top["text"] and top["where"].startswith("line")
    prompt = data["steps"][4]["data"]
    # the whole filled template: the prompt and the reply the model wrote into it
    assert (
        f'Question: {QUESTION}</user>\n<assistant>{{"answer": "The tower is 999' in prompt["text"]
    )
    first = data["steps"][6]["data"]
    assert first["verdicts"]["grounded"]["ok"] is False and first["next"] == "rewrite"
    assert data["steps"][7]["data"]["query"] == "Eiffel Tower height metres"
    gen = data["steps"][10]["data"]
    assert gen["slots"][0]["name"] == "reply" and gen["slots"][0]["constraint"]["kind"] == "schema"


def test_trace_for_people(two_attempts):
    result = invoke("trace", two_attempts["id"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    for expected in (
        f"interaction {two_attempts['id']}",
        "── features",
        "── retrieve · attempt 1",
        "eiffel_tower.txt",
        f"Question: {QUESTION}",
        "rejected · next: rewrite",
        "not in the sources: 999",
        "── rewrite · attempt 2",
        "passed · next: final",
        "status grounded · from attempt 2",
    ):
        assert expected in text, expected


def test_trace_is_scoped_to_the_viewer(ingested, fakes):
    _json("users", "set", "ann", "groups=hr")
    _json("users", "set", "ben", "role=x")
    mine = _json("ask", QUESTION, "--user", "ann")["id"]
    theirs = invoke("trace", mine, "--user", "ben")
    assert theirs.exit_code == 1 and f"no interaction {mine} for user 'ben'" in theirs.stderr
    anonymous = invoke("trace", mine)
    assert anonymous.exit_code == 1 and "anonymous" in anonymous.stderr
    assert _json("trace", mine, "--user", "ann")["interaction"]["user"] == "ann"
    assert _json("trace", mine, "--all-users")["interaction"]["user"] == "ann"
    missing = invoke("trace", 999, "--all-users")
    assert missing.exit_code == 1 and "no interaction 999" in missing.stderr


def test_trace_hides_chunks_the_viewer_may_no_longer_read(ingested, fakes, docs):
    _json("users", "set", "ann", "groups=hr")
    iid = _json("ask", QUESTION, "--user", "ann")["id"]
    _json("ingest", docs / "eiffel_tower.txt", "--group", "legal")  # ann loses access to it
    hits = _json("trace", iid, "--user", "ann")["steps"][2]["data"]["hits"]
    hidden = [h for h in hits if not h["available"]]
    assert hidden and all(h["text"] is None and h["path"] is None for h in hidden)
    shown = [h for h in hits if h["available"]]
    assert not any("eiffel_tower" in h["path"] for h in shown)
    owner = _json("trace", iid, "--all-users")["steps"][2]["data"]["hits"]
    assert any(h["available"] and h["path"].endswith("eiffel_tower.txt") for h in owner)


def test_log_list_filters(ingested, fakes):
    _json("users", "set", "ann", "groups=hr")
    a1 = _json("ask", QUESTION, "--user", "ann", "--session", "s")["id"]
    second = _json("ask", "Who built it?", "--user", "ann", "--session", "s")
    a2 = second["id"]
    anon = _json("ask", "Who built the Eiffel Tower?")["id"]
    ids = [r["id"] for r in _json("log", "list", "--user", "ann")["interactions"]]
    assert ids == [a2, a1]
    assert [r["id"] for r in _json("log", "list")["interactions"]] == [anon]
    everyone = _json("log", "list", "--all-users")["interactions"]
    assert [r["id"] for r in everyone] == [anon, a2, a1]
    row = everyone[1]
    expected = ("ann", "s", 2, second["status"])
    assert (row["user"], row["session"], row["turn"], row["status"]) == expected
    assert set(row) >= {"created_at", "attempts", "groundedness", "seconds", "question", "answer"}
    only = _json("log", "list", "--all-users", "--session", "s", "--limit", "1")["interactions"]
    assert [r["id"] for r in only] == [a2]
    assert _json("log", "list", "--all-users", "--status", "error")["interactions"] == []
    assert _json("log", "list", "--all-users", "--since", "2999-01-01")["interactions"] == []
    assert len(_json("log", "list", "--all-users", "--since", "1h")["interactions"]) == 3
    human = invoke("log", "list", "--all-users")
    assert human.exit_code == 0 and human.stdout.count(" ann ") == 2  # the two turns of ann
    bad = invoke("log", "list", "--since", "yesterday")
    assert bad.exit_code == 2 and "--since wants a duration" in bad.stderr


def test_parse_since():
    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
    assert parse_since("30m", now) == "2026-11-24T11:30:00"
    assert parse_since("2h", now) == "2026-11-24T10:00:00"
    assert parse_since("7d", now) == "2026-11-17T12:00:00"
    assert parse_since("1w", now) == "2026-11-17T12:00:00"
    assert parse_since("2026-11-01", now) == "2026-11-01T00:00:00"
    assert parse_since("2026-11-01T08:00:00+02:00", now) == "2026-11-01T06:00:00"
    with pytest.raises(UsageError):
        parse_since("soon", now)
