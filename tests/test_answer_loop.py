"""The answer loop with fake models: validators, retries with altered prompts, final status,
attempts recorded as they happen; sessions and `docqa chat`."""

from __future__ import annotations

import json

import pytest

from docqa.config import load_settings
from docqa.errors import GenerationError
from docqa.store import Store
from tests.cli import invoke
from tests.fakes import copy_reply, source_texts

QUESTION = "How many metres tall is the Eiffel Tower?"


def _store() -> Store:
    return Store.open(load_settings().db_path)


def scripted(*replies):
    """A model whose `reply` slots answer from `replies` in turn (a callable gets the prompt);
    the rewrite slot gets a fixed query and extractive choices the not-found choice."""
    queue = list(replies)

    def reply(prompt, slot):
        if slot.name == "query":
            return "Eiffel Tower height metres"
        if slot.choices:
            return slot.choices[-1]
        value = queue.pop(0) if len(queue) > 1 else queue[0]
        return value(prompt) if callable(value) else value

    return reply


TALL = (
    "When it was completed, the tower was 300 metres tall (312 metres including its "
    "flagpole), making it the tallest man-made structure in the world."
)


def copied(prompt: str) -> dict:
    """Answers with the sentence about the tower's height, citing the source that holds it."""
    holding = [n for n, text in source_texts(prompt).items() if TALL in text]
    return {"answer": TALL, "citations": holding[:1], "answerable": True}


def ask_json(*args: str) -> dict:
    result = invoke("ask", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_invented_number_is_rejected_and_asked_again(ingested, fakes):
    _, llm = fakes
    invented = {"answer": "The tower is 999 metres tall.", "citations": [1], "answerable": True}
    llm.reply = scripted(invented, copied)
    data = ask_json(QUESTION)
    first, second = data["attempts"]
    assert (first["strategy"], first["passed"]) == ("initial", False)
    assert first["verdicts"]["grounded"]["ok"] is False
    assert "not in the sources: 999" in first["verdicts"]["grounded"]["reason"]
    assert first["grounding"]["sentences"][0]["missing"] == ["999"]
    assert (second["strategy"], second["passed"]) == ("rewrite", True)
    assert second["queries"] == [QUESTION, "Eiffel Tower height metres"]
    assert (data["status"], data["answer"]) == ("grounded", TALL)
    assert data["citations"][0]["path"].endswith("eiffel_tower.txt")
    # the second prompt says why the first answer was rejected
    reply_prompts = [p for p, s in zip(llm.prompts, llm.slots, strict=True) if s.name == "reply"]
    assert "Note: An earlier answer was rejected (grounded:" in reply_prompts[1]
    assert "999" in reply_prompts[1] and "Note:" not in reply_prompts[0]
    # every attempt is a recorded step, with what came next
    steps = [s.to_json() for s in _store().journal.steps(data["id"])]
    assert [s["stage"] for s in steps] == [
        "features",
        "embed",
        "retrieve",
        "guard",
        "prompt",
        "generate",
        "validate",
        "rewrite",
        "retrieve",
        "prompt",
        "generate",
        "validate",
        "answer",
    ]
    validations = [s["data"] for s in steps if s["stage"] == "validate"]
    assert [(v["attempt"], v["passed"], v["next"]) for v in validations] == [
        (1, False, "rewrite"),
        (2, True, "final"),
    ]


def test_nothing_grounded_ends_in_not_found(ingested, fakes):
    _, llm = fakes
    llm.reply = scripted(
        {"answer": "Purple elephants dance at midnight.", "citations": [2], "answerable": True}
    )
    data = ask_json(QUESTION)
    # no sentence is copied from the sources as a last resort: two attempts, then not found
    assert [a["strategy"] for a in data["attempts"]] == ["initial", "rewrite"]
    assert [a["template"] for a in data["attempts"]] == ["qa", "qa"]
    assert not any(a["passed"] for a in data["attempts"])
    assert [a["verdicts"]["grounded"]["ok"] for a in data["attempts"]] == [False, False]
    assert (data["status"], data["answer"], data["citations"]) == (
        "unanswerable",
        "The documents do not say.",
        [],
    )
    assert data["answerable"] is False and data["grounding"] is None


def test_partly_supported_answer_is_returned_with_the_sentence_flagged(ingested, fakes):
    _, llm = fakes

    def half(prompt):
        reply = copied(prompt)
        return {**reply, "answer": f"{TALL} It was painted green by Napoleon in 1712."}

    llm.reply = scripted(half)
    data = ask_json(QUESTION, "--max-attempts", "2")
    assert data["status"] == "partially_grounded" and data["answerable"] is True
    assert len(data["attempts"]) == 2
    supported = [(s["text"], s["supported"]) for s in data["grounding"]["sentences"]]
    assert supported == [
        (TALL, True),
        ("It was painted green by Napoleon in 1712.", False),
    ]
    flagged = data["grounding"]["sentences"][1]
    assert flagged["missing"] == ["Napoleon", "1712"]
    assert data["grounding"]["score"] == 0.5
    human = invoke("ask", QUESTION, "--max-attempts", "1")
    assert "partially grounded" in human.stdout
    assert "[?]" in human.stdout and "not in the sources: Napoleon, 1712" in human.stdout


def test_an_answer_without_citations_is_cited_by_the_source_that_supports_it(ingested, fakes):
    _, llm = fakes
    llm.reply = scripted({"answer": TALL, "citations": [], "answerable": True}, copied)
    data = ask_json(QUESTION)
    (first,) = data["attempts"]
    cited = first["verdicts"]["citations"]
    assert cited["ok"] and cited["reason"].endswith("(the model cited [])")
    assert data["status"] == "grounded" and data["citations"]
    assert all(c["path"].endswith("eiffel_tower.txt") for c in data["citations"])


def test_max_attempts_one_means_no_retry(ingested, fakes):
    _, llm = fakes
    llm.reply = scripted({"answer": "Gibberish words.", "citations": [1], "answerable": True})
    data = ask_json(QUESTION, "--max-attempts", "1")
    assert len(data["attempts"]) == 1 and data["status"] == "unanswerable"
    assert [s.name for s in llm.slots] == ["reply"]


def test_an_interrupted_loop_leaves_its_attempts_inspectable(ingested, fakes):
    _, llm = fakes
    calls = []

    def reply(prompt, slot):
        calls.append(slot.name)
        if slot.name == "query":
            raise GenerationError("the model ran out of context")
        return {"answer": "Gibberish words.", "citations": [1], "answerable": True}

    llm.reply = reply
    result = invoke("ask", QUESTION, "--json")
    assert result.exit_code == 1 and "the model ran out of context" in result.stderr
    store = _store()
    [row] = store.conn.execute("SELECT id, status, error FROM interactions").fetchall()
    assert row[1:] == ("error", "the model ran out of context")
    steps = [s.to_json() for s in store.journal.steps(row[0])]
    validate = [s for s in steps if s["stage"] == "validate"]
    assert [(v["data"]["attempt"], v["data"]["next"]) for v in validate] == [(1, "rewrite")]
    assert validate[0]["data"]["answer"] == "Gibberish words."


def test_session_turns_see_the_history_and_search_in_its_context(ingested, fakes):
    _, llm = fakes
    llm.reply = copy_reply
    one = ask_json(QUESTION, "--session", "trip")
    two = ask_json("When was it inaugurated?", "--session", "trip")
    assert (one["session"], one["turn"], two["turn"]) == ("trip", 1, 2)
    second_prompt = llm.prompts[-1]
    history = f"<user>Question: {QUESTION}</user>\n<assistant>{one['answer']}</assistant>"
    assert history in second_prompt
    assert two["attempts"][0]["queries"] == [
        "When was it inaugurated?",
        f"{QUESTION} When was it inaugurated?",
    ]
    # each turn of the history is a cache point, after the static prefix; then the sources
    prefixes = llm.cache_prefixes[-1]
    assert len(prefixes) == 3 and prefixes[1].endswith(one["answer"])
    sources = prefixes[2][len(prefixes[1]) :]
    assert sources.startswith("</assistant>\n<user>Sources:") and "Question:" not in sources
    three = ask_json("Who designed it?", "--session", "trip")
    assert three["attempts"][0]["queries"][1] == (
        f"{QUESTION} When was it inaugurated? Who designed it?"
    )
    session = _store().people.session("trip")
    assert (session["turns"], session["prompt_tokens"] > 0) == (3, True)
    # a question outside the session sees no history
    ask_json("Who built it?")
    assert f"Question: {QUESTION}<" not in llm.prompts[-1]


def test_session_needs_the_log(ingested):
    result = invoke("ask", QUESTION, "--session", "s", "--no-log")
    assert result.exit_code == 2 and "--session keeps its turns" in result.stderr


@pytest.mark.parametrize("name", ["", "a\tb", "x" * 101])
def test_bad_session_names(ingested, name):
    result = invoke("ask", QUESTION, "--session", name)
    assert result.exit_code == 2 and "session name" in result.stderr


WHAT = "What is the Eiffel Tower?"


def test_chat_over_a_pipe(ingested, fakes):
    _, llm = fakes
    lines = [WHAT, "/sources", "", "When was it inaugurated?", "/history", "/quit", "Ignored?"]
    result = invoke(
        "chat", "--session", "c1", "--json", "--context-tokens", "0", input="\n".join(lines) + "\n"
    )
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    first, sources, second, history = out
    assert (first["turn"], second["turn"], second["session"]) == (1, 2, "c1")
    assert [s["n"] for s in sources["sources"]] == [1, 2, 3, 4, 5]
    assert [s["cited"] for s in sources["sources"]] == [True, False, False, False, False]
    assert [t["question"] for t in history["turns"]] == [WHAT, "When was it inaugurated?"]
    assert f"Question: {WHAT}</user>" in llm.prompts[-1]
    assert not any("Ignored" in p for p in llm.prompts)
    # the conversation goes on later, in `ask`
    third = ask_json("Who built it?", "--session", "c1")
    assert third["turn"] == 3


def test_chat_human_output_and_unknown_command(ingested):
    result = invoke("chat", input=f"{WHAT}\n/nope\n/help\n")
    assert result.exit_code == 0
    assert "wrought-iron lattice tower" in result.stdout and "eiffel_tower.txt" in result.stdout
    assert "unknown command /nope" in result.stderr and "/sources" in result.stdout


def test_chat_rates_the_last_answer_with_good_and_bad(ingested):
    lines = ["/good", WHAT, "/bad the answer is too long", "/good", "/quit"]
    result = invoke("chat", "--json", input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert "no answer to rate yet" in result.stderr  # /good before any answer
    answer, bad, good = [json.loads(line) for line in result.stdout.splitlines()]
    assert bad["feedback"]["interaction_id"] == answer["id"]
    assert (bad["feedback"]["verdict"], bad["feedback"]["note"]) == (
        "bad",
        "the answer is too long",
    )
    assert bad["feedback"]["replaced"] is None
    assert (
        good["feedback"]["verdict"] == "good" and good["feedback"]["replaced"]["verdict"] == "bad"
    )
    trace = json.loads(invoke("trace", answer["id"], "--json").stdout)
    assert [f["verdict"] for f in trace["feedback"]] == ["good"]


def test_an_answer_reuses_the_sentence_vectors_stored_at_ingest(ingested, fakes):
    """The sources' sentences were embedded by ingest: checking an answer embeds the answer's
    own sentences and the question, not those of the sources again."""
    from docqa.flows.groundedness import split_sentences

    embedder, llm = fakes
    llm.reply = scripted(copied)
    embedder.calls.clear()
    body = ask_json(QUESTION)
    assert body["status"] == "grounded"
    embedded = {t for call in embedder.calls for t in call}
    store = _store()
    chunks = [text for (text,) in store.conn.execute("SELECT text FROM chunks")]
    store.close()
    stored = {s for text in chunks for s in split_sentences(text, min_chars=12)}
    assert QUESTION in embedded
    reused = embedded & stored - {TALL}  # the answer is a sentence of a source, embedded once
    assert reused == set(), sorted(reused)[:3]
