"""Answers shown as they are written: the loop's events, `ask --stream`, and the terminal view."""

from __future__ import annotations

import io
import json

from rich.console import Console

from docqa.flows.events import AnswerStream, AnswerText, AttemptBegun, AttemptJudged
from docqa.flows.reply import answer_so_far
from docqa.live import LiveAnswer
from tests.cli import invoke
from tests.test_cli import LATTICE


def test_the_answer_is_read_out_of_a_reply_while_its_json_is_still_open():
    reply = json.dumps({"answer": 'It is "wrought" iron, 330 m.', "citations": [1]})
    seen = [answer_so_far("reply", reply[:end]) for end in range(len(reply) + 1)]
    assert seen[0] == "" and seen[-1] == 'It is "wrought" iron, 330 m.'
    # it only ever grows: an escape cut in half is held back until it is whole
    assert all(b.startswith(a) for a, b in zip(seen, seen[1:], strict=False))
    assert answer_so_far("reply", '{"answer": "iron \\') == "iron "
    assert answer_so_far("answer", "Paris") == "Paris"
    assert answer_so_far("query", "eiffel tower height") is None


def test_answer_stream_sends_only_the_new_text_of_the_answer():
    events = []
    stream = AnswerStream(2, events.append)
    for text in ['{"answer": "', '{"answer": "In 18', '{"answer": "In 1889.", "cit']:
        stream("reply", text)
    stream("reply", '{"answer": "In 1889.", "citations": [1]}')
    assert events == [AnswerText(2, "In 18"), AnswerText(2, "89.")]


def _stream_lines(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_ask_stream_prints_events_then_the_json_answer(ingested, fakes):
    question = "What is the Eiffel Tower?"
    lines = _stream_lines(invoke("ask", question, "--stream", "--no-log"))
    kinds = [line["event"] for line in lines]
    assert kinds[0] == "attempt" and kinds[-2:] == ["verdict", "final"]
    assert set(kinds[1:-2]) == {"token"} and len(kinds) > 5  # the fake writes 3 chars at a time
    assert lines[0] == {"event": "attempt", "attempt": 1, "strategy": "initial"}
    assert "".join(line["text"] for line in lines if line["event"] == "token") == LATTICE
    assert lines[-2] == {
        "event": "verdict",
        "attempt": 1,
        "passed": True,
        "answer": LATTICE,
        "failed": [],
    }
    # the final line is the --json object, with its event name
    final = lines[-1]
    plain = json.loads(invoke("ask", question, "--json", "--no-log").stdout)
    del final["event"]
    assert set(final) == set(plain)
    for data in (final, plain):  # the seconds differ from run to run
        del data["timings"]
        for attempt in data["attempts"]:
            del attempt["seconds"]
    assert final == plain


def test_ask_stream_shows_a_rejected_attempt_and_the_next(ingested, fakes):
    _, llm = fakes
    replies = iter(
        [
            {"answer": "Bananas are yellow and grow in bunches.", "citations": [1]},
            {"answer": LATTICE, "citations": [1]},
        ]
    )

    def reply(prompt, slot):
        if slot.name == "query":
            return "eiffel tower"
        return {**next(replies), "answerable": True}

    llm.reply = reply
    lines = _stream_lines(invoke("ask", "What is the Eiffel Tower?", "--stream"))
    kinds = [line["event"] for line in lines]
    assert [k for k in kinds if k != "token"] == [
        "attempt",
        "verdict",
        "attempt",
        "verdict",
        "final",
    ]
    first, second = [line for line in lines if line["event"] == "verdict"]
    assert first["passed"] is False and first["answer"].startswith("Bananas")
    assert "grounded" in {f["validator"] for f in first["failed"]}
    assert second["passed"] is True and second["answer"] == LATTICE
    assert lines[2]["event"] == "token" and lines[2]["attempt"] == 1
    assert lines[-1]["status"] == "grounded" and len(lines[-1]["attempts"]) == 2


def test_ask_stream_over_stdin_ends_each_question_with_its_final_line(ingested, fakes):
    lines = _stream_lines(
        invoke("ask", "-", "--stream", input="What is the Eiffel Tower?\nWho built it?\n")
    )
    finals = [line for line in lines if line["event"] == "final"]
    assert [f["question"] for f in finals] == ["What is the Eiffel Tower?", "Who built it?"]
    assert lines[-1]["event"] == "final"


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=100, color_system=None), buffer


def test_live_answer_keeps_a_rejected_attempt_struck_and_clears_the_kept_one():
    console, buffer = _console()
    with LiveAnswer(console) as live:
        live(AttemptBegun(1, "initial"))
        live(AnswerText(1, "Bananas are "))
        live(AnswerText(1, "yellow."))
        live(AttemptJudged(1, False, "Bananas are yellow.", (("grounded", "0/1 supported"),)))
        live(AttemptBegun(2, "rewrite"))
        live(AnswerText(2, "It is a tower."))
        live(AttemptJudged(2, True, "It is a tower.", ()))
    screen = buffer.getvalue()
    assert "Bananas are yellow." in screen
    assert "✗ attempt 1 rejected: 0/1 supported" in screen
    assert "checking the sources again" in screen
    assert "It is a tower." in screen  # drawn live while it was written ...
    # ... and cleared at the end (transient), so the caller prints the kept answer once
    assert live.live.transient
