"""Bad questions and arguments, one table: each gets one clear line on stderr and the exit
code of the CLI contract (1 error, 2 usage error), never a traceback, and leaves the store as
it was."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli import invoke

LONG = "why" + "?" * 5997  # 6,000 characters: over the question limit

BROKEN = "{{ question }"
UNDEFINED = "Q: {{ question }} {{ no_such_variable }} {{ gen('answer') }}"
BAD_REGEX = "Q: {{ question }} {{ gen('answer', regex='(') }}"
BAD_SCHEMA = "Q: {{ question }} {{ gen('answer', schema={'type': 'objectx'}) }}"
TWICE = "{{ gen('answer') }} {{ gen('answer') }}"
ESCAPE = "{{ question.__class__.__mro__[1].__subclasses__() }} {{ gen('answer') }}"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        # questions
        (("ask", ""), 2, "the question is empty"),
        (("ask", " \t\n "), 2, "the question is empty"),
        (("ask", "\x00\x07\x1b"), 2, "the question is empty"),
        (("search", "\x7f"), 2, "the question is empty"),
        (("ask", LONG), 2, "the question is 6,000 characters; the limit is 4,000"),
        (("search", LONG), 2, "the question is 6,000 characters; the limit is 4,000"),
        # who asks, and in which conversation
        (("ask", "Who?", "--user", "nobody"), 2, "unknown user 'nobody'"),
        (("search", "Who?", "--user", "nobody"), 2, "unknown user 'nobody'"),
        (("chat", "--user", "nobody"), 2, "unknown user 'nobody'"),
        (("ask", "Who?", "--session", " "), 2, "a session name is 1 to 100"),
        (("ask", "Who?", "--session", "a\x1bb"), 2, "a session name is 1 to 100"),
        # numbers and choices
        (("ask", "Who?", "-k", "0"), 2, "'-k': Input should be greater than or equal to 1"),
        (("search", "Who?", "-k", "-3"), 2, "'-k': Input should be greater than or equal to 1"),
        (("ask", "Who?", "-k", "many"), 2, "'-k': Input should be a valid integer"),
        (("ask", "Who?", "--mode", "poetic"), 2, "'poetic' is not one of"),
        (("ask", "Who?", "--max-attempts", "0"), 2, "'--max-attempts': Input should be greater"),
        (("ask", "Who?", "--beams", "0"), 2, "'--beams': Input should be greater"),
        (("monitor", "report", "--since", "last blue moon"), 2, "--since"),
        (("monitor", "report", "--window", "0"), 2, "'--window': Input should be greater"),
        (("trace", "999999"), 1, "no interaction 999999"),
        (("trace", "abc"), 2, "'interaction': Input should be a valid integer"),
        # templates: broken, undefined variables, bad slots, escapes, variables
        (("ask", "Who?", "--template", "{tpl}"), 1, "template"),
        (("ask", "Who?", "--template", "{undefined}"), 1, "'no_such_variable' is undefined"),
        (
            ("ask", "Who?", "--template", "{bad_regex}"),
            1,
            "the regex cannot be used: unclosed group",
        ),
        (("ask", "Who?", "--template", "{bad_schema}"), 1, "the schema cannot be used"),
        (("ask", "Who?", "--template", "{twice}"), 1, "slot 'answer' is filled twice"),
        (("ask", "Who?", "--template", "{escape}"), 1, "unsafe"),
        (("run", "{undefined}", "--var", "question=Who?"), 1, "'no_such_variable' is undefined"),
        (("run", "{tpl}", "--var", "gen=1"), 2, "reserved"),
        (("run", "{tpl}", "--var", "=1"), 2, "KEY=VALUE"),
        (("run", "{tpl}", "--var", "x:={nope"), 2, "not JSON"),
        (("run", "no_such_template"), 1, "no template named 'no_such_template'"),
        # users and documents
        (("users", "set", "ada", "novalue"), 2, "KEY=VALUE"),
        (("users", "show", "nobody"), 2, "unknown user 'nobody'"),
        (("docs", "rm", "/no/such/file.md"), 1, "not in the store"),
        (("ingest", "/no/such/dir"), 3, "failed /no/such/dir: no such file or directory"),
    ],
    ids=lambda v: repr(v)[:40] if isinstance(v, tuple) else None,
)
def test_bad_input_is_one_clear_line_with_the_contract_exit_code(
    ingested, tmp_path, args, code, message
):
    files = {
        "tpl": BROKEN,
        "undefined": UNDEFINED,
        "bad_regex": BAD_REGEX,
        "bad_schema": BAD_SCHEMA,
        "twice": TWICE,
        "escape": ESCAPE,
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.j2"
        paths[name].write_text(text)
    args = [a.format(**paths) if "{" in a and "}" in a and "{nope" not in a else a for a in args]
    before = json.loads(invoke("docs", "list", "--json").stdout)
    result = invoke(*args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if result.stderr.startswith("Usage:"):  # click's own usage error: the usage, then a box
        assert message in " ".join(re.sub("[│╭╮╰╯─]", " ", result.stderr).split())
    else:
        assert message in result.stderr, result.stderr
        lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
        assert len(lines) == (code != 3), result.stderr
    assert json.loads(invoke("docs", "list", "--json").stdout) == before


def test_control_characters_in_a_question_are_dropped_before_it_is_used(ingested, fakes):
    """A question pasted with terminal escapes or NULs is answered as its printable text,
    and nothing unprintable reaches the prompt, the record or the terminal."""
    _, llm = fakes
    result = invoke("ask", "Who built\x00 the Eiffel\x1b[2J Tower?\x07", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["question"] == "Who built the Eiffel [2J Tower?"
    assert "Question: Who built the Eiffel [2J Tower?" in llm.prompts[0]
    assert all(c.isprintable() or c == "\n" for c in llm.prompts[0])


def test_stdin_questions_report_a_bad_line_and_answer_the_others(ingested):
    """With `-`, a bad line gets its own error object and the others are answered; the exit
    code says one failed."""
    result = invoke("ask", "-", "--json", input="Who built the Eiffel Tower?\n\x00\nWhat is TCP?\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [("error" in x) for x in lines] == [False, True, False]
    assert lines[1]["error"] == "the question is empty"
    assert result.exit_code == 1
