"""`docqa eval`: question sets with gold evidence and answers, scored for search and for ask."""

from __future__ import annotations

import json

import pytest

from docqa.errors import UsageError
from docqa.flows.evaluate import EvalItem, evaluate_ask, evaluate_search, load_items
from tests.cli import invoke

INAUGURATED = "was inaugurated on 31 March 1889, when Eiffel climbed to the top"


def write_set(path, *items) -> str:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return str(path)


def test_search_scores_rank_the_evidence_among_the_hits():
    hits = {
        "a?": [
            {"text": "Nothing here.", "path": "x"},
            {"text": "The  ANSWER\nis here.", "path": "y"},
        ],
        "b?": [{"text": "the answer is here, first", "path": "z"}],
        "c?": [{"text": "unrelated", "path": "w"}] * 10,
        "d?": [{"text": "no evidence asked", "path": "v"}],
    }
    items = [
        EvalItem("a?", evidence="the answer is here", extra={"id": "q1"}),
        EvalItem("b?", evidence="The answer is here"),
        EvalItem("c?", evidence="the answer is here", extra={"id": "q3"}),
        EvalItem("d?"),
    ]
    report = evaluate_search(items, lambda q, depth: hits[q][:depth])
    assert (report["n"], report["with_evidence"]) == (4, 3)
    assert (report["hit@1"], report["hit@5"], report["hit@10"]) == (0.3333, 0.6667, 0.6667)
    assert report["mrr"] == round((1 / 2 + 1) / 3, 4)
    assert [r["rank"] for r in report["questions"]] == [2, 1, None, None]
    assert [m.get("id") for m in report["misses"]] == ["q3"]
    assert report["questions"][0]["top"] == ["x", "y"]


def test_ask_scores_right_answers_refusals_and_grounded_wrong_ones():
    answers = {
        "right?": {"answer": "It opened on 31 March 1889.", "status": "grounded"},
        "wrong?": {"answer": "It opened in 1920.", "status": "grounded"},
        "refused?": {"answer": "The documents do not say.", "status": "unanswerable"},
        "not in docs?": {"answer": "The documents do not say.", "status": "unanswerable"},
        "invented?": {"answer": "Paris has 7 towers.", "status": "partially_grounded"},
        "spelling?": {"answer": "about 1GB of memory", "status": "grounded"},
    }
    items = [
        EvalItem("right?", answers=("31 march 1889",)),
        EvalItem("wrong?", answers=("1889",)),
        EvalItem("refused?", answers=("Koechlin",)),
        EvalItem("not in docs?", answerable=False),
        EvalItem("invented?", answerable=False),
        EvalItem("spelling?", answers=("1 GB", "1gb")),
    ]
    report = evaluate_ask(items, lambda q: {**answers[q], "citations": []})
    assert report["n"] == 6 and report["answerable"] == 4 and report["unanswerable"] == 2
    assert (report["correct"], report["accuracy"]) == (2, 0.5)
    assert report["refused"] == 2
    assert report["false_refusals"] == 1
    assert report["correct_refusals"] == 1
    assert report["grounded_but_wrong"] == 1  # "wrong?": the checks passed a wrong answer
    assert [m["question"] for m in report["misses"]] == ["wrong?", "refused?", "invented?"]


def test_a_failed_question_is_counted_and_the_others_go_on():
    from docqa.errors import GenerationError

    def ask(q):
        if q == "bad?":
            raise GenerationError("the model ran out of context")
        return {"answer": "yes", "status": "grounded", "citations": []}

    report = evaluate_ask(
        [EvalItem("bad?", answers=("x",)), EvalItem("ok?", answers=("yes",))], ask
    )
    assert report["errors"] == 1 and report["correct"] == 1
    assert report["questions"][0]["error"] == "the model ran out of context"


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "set.jsonl:2: not a JSON object"),
        ('{"evidence": "x"}', 'set.jsonl:2: each line needs a "question" string'),
        ('{"question": "  "}', "set.jsonl:2: the question is empty"),
        ('{"question": "q", "answer": 3}', '"answer" must be a string or a list of strings'),
        ('{"question": "q", "answerable": "no"}', '"answerable" must be true or false'),
        ('{"question": "q", "answerable": false, "answer": "x"}', "has no evidence or answer"),
    ],
)
def test_a_bad_line_is_a_usage_error_naming_it(tmp_path, line, message):
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "fine?"}\n' + line + "\n")
    with pytest.raises(UsageError, match=message.replace("?", r"\?").replace("(", r"\(")):
        load_items(path)


def test_halves_are_kept_apart(tmp_path):
    path = tmp_path / "set.jsonl"
    write_set(path, {"question": "a", "half": "dev"}, {"question": "b", "half": "test"})
    assert [i.question for i in load_items(path, half="test")] == ["b"]
    with pytest.raises(UsageError, match="no questions in half 'other'"):
        load_items(path, half="other")


def test_eval_search_on_the_sample_documents(ingested, tmp_path):
    path = write_set(
        tmp_path / "set.jsonl",
        {"id": "e1", "question": "When was the tower inaugurated and Eiffel climbed to the top?",
         "evidence": INAUGURATED, "half": "dev"},
        {"id": "e2", "question": "What colour is the moon?",
         "evidence": "the moon is made of green cheese", "half": "dev"},
    )  # fmt: skip
    result = invoke("eval", path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["mode"] == "search" and report["n"] == 2
    assert report["questions"][0]["rank"] == 1
    assert report["questions"][0]["top"][0].endswith("eiffel_tower.txt")
    assert report["questions"][1]["rank"] is None
    assert (report["hit@1"], report["hit@10"], report["mrr"]) == (0.5, 0.5, 0.5)
    assert [m["id"] for m in report["misses"]] == ["e2"]
    text = invoke("eval", path).output
    assert "hit@1" in text and "e2 not in the top 10: What colour is the moon?" in text


def test_eval_ask_writes_html_and_logs_nothing_by_default(ingested, tmp_path):
    path = write_set(
        tmp_path / "set.jsonl",
        {"id": "a1", "question": "When was the Eiffel Tower inaugurated?", "answer": "1889"},
        {"id": "a2", "question": "Who won the 1998 World Cup?", "answerable": False},
    )
    page = tmp_path / "eval.html"
    result = invoke("eval", path, "--mode", "ask", "--json", "--html", page)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["n"], report["answerable"], report["unanswerable"]) == (2, 1, 1)
    assert [q["id"] for q in report["questions"]] == ["a1", "a2"]
    html = page.read_text()
    assert "docqa eval --mode ask" in html and "Who won the 1998 World Cup?" in html
    logged = json.loads(invoke("log", "list", "--json").output)["interactions"]
    assert logged == []


def test_a_missing_question_file_is_a_usage_error(ingested, tmp_path):
    result = invoke("eval", tmp_path / "nope.jsonl")
    assert result.exit_code == 2
    assert "cannot read the question set" in result.output


def test_eval_ask_runs_the_template_given(ingested, fakes, tmp_path):
    """--template compares answer formats on a question set: here a template whose answer
    is a line of text and whose refusal has no answerable flag."""
    _, llm = fakes
    tpl = tmp_path / "lines.j2"
    tpl.write_text("Q: {{ question }} A: {{ gen('answer', stop='\\n') }} C: {{ gen('citations') }}")
    said = {
        "When was the Eiffel Tower inaugurated?": ("Inaugurated in 1889.", "none"),
        "Who won the 1998 World Cup?": ("The documents do not say.", "none"),
    }
    llm.reply = lambda prompt, slot: dict(
        zip(("answer", "citations"), said[prompt.split("Q: ")[1].split(" A:")[0]], strict=True)
    )[slot.name]
    path = write_set(
        tmp_path / "set.jsonl",
        {"id": "a1", "question": "When was the Eiffel Tower inaugurated?", "answer": "1889"},
        {"id": "a2", "question": "Who won the 1998 World Cup?", "answerable": False},
    )
    args = ("eval", path, "--mode", "ask", "--json", "--max-attempts", "1")
    report = json.loads(invoke(*args, "--template", tpl).output)
    assert [q["answer"] for q in report["questions"]] == [
        "Inaugurated in 1889.",
        "The documents do not say.",
    ]
    assert [q["status"] for q in report["questions"]][1] == "unanswerable"
    assert (report["correct"], report["correct_refusals"]) == (1, 1)
    assert llm.prompts[0].startswith("Q: When was the Eiffel Tower inaugurated? A: ")
    bad = invoke(*args, "--template", tmp_path / "missing.j2")
    assert bad.exit_code == 1 and "template file not found" in bad.stderr
