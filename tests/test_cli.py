"""The command line with fake models: JSON contract, stdin mode, exit codes, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from docqa.cli import app
from tests.cli import invoke

LATTICE = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France, "
    "close to the left bank of the river Seine."
)


def test_ingest_json_summary(fakes, docs):
    result = invoke("ingest", docs, "--json")
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert set(summary) == {
        "files_seen",
        "added",
        "updated",
        "unchanged",
        "removed",
        "skipped",
        "failed",
        "chunks_added",
        "chunks_total",
        "seconds",
        "query_embedder",
    }
    assert (summary["files_seen"], summary["added"], summary["failed"]) == (26, 26, [])
    # a fake embedder has no ONNX export: questions are embedded by the embedder itself
    assert summary["query_embedder"]["backend"] == "torch"
    again = json.loads(invoke("ingest", docs, "--json").stdout)
    assert (again["unchanged"], again["chunks_added"]) == (26, 0)


def test_ingest_with_failures_exits_3_and_lists_them(fakes, docs):
    (docs / "bad.md").write_bytes(b"\x00\x01\x02")
    result = invoke("ingest", docs, "--json")
    assert result.exit_code == 3
    summary = json.loads(result.stdout)
    assert summary["added"] == 26
    assert summary["failed"] == [
        {"path": str(docs / "bad.md"), "reason": "binary file (contains NUL bytes), not text"}
    ]
    human = invoke("ingest", docs / "bad.md")
    assert human.exit_code == 3 and "bad.md: binary file" in human.stderr


def test_search_json_contract(ingested):
    result = invoke("search", "When was the Eiffel Tower inaugurated?", "-k", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["question"] == "When was the Eiffel Tower inaugurated?"
    assert len(data["hits"]) == 3
    hit = data["hits"][0]
    assert set(hit) == {
        *("chunk_id", "path", "lines", "page", "heading", "score", "text"),
        *("dense_score", "lexical_rank", "sentence_score", "lexical_score", "sentence"),
        *("document_score", "source_text"),
    }
    assert hit["path"].endswith("eiffel_tower.txt")
    assert hit["source_text"] is None  # plain text: its text is its source
    assert hit["sentence"] in hit["text"] and "inaugurated" in hit["sentence"]
    own = hit["dense_score"] + 1.0 * hit["sentence_score"] + 0.3 * hit["lexical_score"]
    assert hit["score"] == pytest.approx(own + 0.3 * hit["document_score"], abs=1e-5)
    assert hit["lines"][0] <= hit["lines"][1] and hit["page"] is None
    scores = [h["score"] for h in data["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_search_for_people_shows_each_hit_around_its_best_sentence_in_bold():
    from docqa.records import Hit
    from docqa.render import focused_snippet

    text = "Intro words here. " * 20 + "The answer sits in this sentence. " + "Tail words. " * 30
    a = text.index("The answer")
    hit = Hit(chunk_id=1, path="/p.md", text=text, score=1.0, sentence=(a, a + 33))
    shown = focused_snippet(hit, width=120)
    assert "The answer sits in this sentence." in shown.plain
    assert shown.plain.startswith("…") and shown.plain.endswith("…")
    assert len(shown.plain) <= 120
    words = shown.plain.strip("…").split()  # cut between words, never inside one
    assert words[0] in ("Intro", "words", "here.") and words[-1] in ("Tail", "words.")
    bold = [shown.plain[s.start : s.end] for s in shown.spans if s.style == "bold"]
    assert bold == ["The answer sits in this sentence."]
    no_sentence = focused_snippet(Hit(chunk_id=1, path="/p.md", text=text, score=1.0), 60)
    assert no_sentence.plain.startswith("Intro words here.") and not no_sentence.spans


def test_search_pdf_hits_have_pages(ingested):
    data = json.loads(invoke("search", "Linus Torvalds kernel", "--json").stdout)
    pdf = next(h for h in data["hits"] if h["path"].endswith(".pdf"))
    assert pdf["page"] >= 1 and pdf["lines"] is None


def test_search_stdin_one_json_object_per_line(ingested, fakes):
    embedder, _ = fakes
    result = invoke("search", "-", input="Eiffel Tower height\n\nhoney bee dance\n")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["question"] for d in lines] == ["Eiffel Tower height", "honey bee dance"]
    assert lines[1]["hits"][0]["path"].endswith("honey_bee.txt")


def test_ask_json_contract_and_record(ingested, fakes):
    _, llm = fakes
    # every retrieved chunk shown whole (--context-tokens 0): the schema allows all five
    result = invoke("ask", "What is the Eiffel Tower?", "--json", "--context-tokens", "0")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # the fake model copies the sentence of source [1] nearest the question: grounded at once
    assert data["answer"] == LATTICE and data["answerable"] is True
    assert data["status"] == "grounded" and data["model"] == "fake-llm"
    assert set(data["timings"]) >= {"embed", "retrieve", "prompt", "generate", "validate", "total"}
    assert set(data["tokens"]) == {"prompt", "cached", "completion"}
    [citation] = data["citations"]
    assert citation["n"] == 1 and citation["path"].endswith("eiffel_tower.txt")
    assert {"chunk_id", "lines", "page", "score", "text"} <= set(citation)
    assert data["grounding"]["status"] == "grounded"
    assert data["grounding"]["sentences"][0]["how"] == "verbatim"
    [attempt] = data["attempts"]
    assert (attempt["strategy"], attempt["passed"], attempt["reason"]) == ("initial", True, "")
    assert set(attempt["verdicts"]) == {"citations", "grounded", "answerable", "answers"}
    assert (data["session"], data["turn"]) == (None, None)
    # the schema only allows the numbers of the sources shown
    [slot] = llm.slots
    assert slot.name == "reply" and slot.kind == "schema"
    assert slot.schema["properties"]["citations"]["items"]["enum"] == [1, 2, 3, 4, 5]
    # the prompt is the template rendered up to the slot, in the model's chat format
    assert llm.prompts[0].startswith("<system>You answer questions using only")
    assert llm.prompts[0].endswith("Question: What is the Eiffel Tower?</user>\n<assistant>")
    # the interaction is recorded, with every stage
    from docqa.config import load_settings
    from docqa.store import Store

    store = Store.open(load_settings().db_path)
    row = store.journal.interaction(data["id"])
    assert row["question"] == "What is the Eiffel Tower?" and row["status"] == "grounded"
    assert json.loads(row["raw_output"]) == [{"attempt": 1, "answer": LATTICE}]
    assert (row["attempts"], row["groundedness"]) == (1, 1.0)
    assert len(row["question_embedding"]) == 64 * 4 and "Eiffel" in row["prompt"]
    steps = [s.to_json() for s in store.journal.steps(data["id"])]
    assert [s["stage"] for s in steps] == [
        "features",
        "embed",
        "retrieve",
        "guard",
        "prompt",
        "generate",
        "validate",
        "answer",
    ]
    assert steps[0]["data"] == {"user": None, "features": {}, "groups": []}
    assert len(steps[2]["data"]["hits"]) == 5
    assert steps[3]["data"]["flags"]["toxic_question"] == {"flagged": False, "words": []}
    assert steps[6]["data"]["passed"] is True and steps[6]["data"]["next"] == "final"


def test_ask_no_log_records_nothing(ingested):
    data = json.loads(invoke("ask", "What is the Eiffel Tower?", "--json", "--no-log").stdout)
    assert data["id"] is None


def test_ask_unanswerable_drops_citations(ingested, fakes):
    _, llm = fakes
    llm.reply = lambda prompt, slot: {
        "answer": "The documents do not say.",
        "citations": [2],
        "answerable": False,
    }
    data = json.loads(invoke("ask", "What is the population of Tokyo?", "--json").stdout)
    assert (data["status"], data["citations"]) == ("unanswerable", [])


def test_ask_stdin_models_loaded_once(ingested, fakes):
    result = invoke("ask", "-", input="What is the Eiffel Tower?\nWho built it?\n")
    assert result.exit_code == 0
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["question"] for a in answers] == ["What is the Eiffel Tower?", "Who built it?"]
    assert answers[0]["id"] != answers[1]["id"]


def test_ask_human_output_shows_answer_and_citations(ingested):
    result = invoke("ask", "What is the Eiffel Tower?")
    assert result.exit_code == 0
    assert "wrought-iron lattice tower" in result.stdout and "[1]" in result.stdout
    assert "grounded in the cited sources" in result.stdout
    assert "eiffel_tower.txt" in result.stdout


def test_ask_template_from_a_path(ingested, fakes, tmp_path):
    _, llm = fakes
    tpl = tmp_path / "mine.j2"
    tpl.write_text(
        "Q: {{ question }} ({{ sources | length }} sources) "
        "A: {{ gen('answer', stop='\\n') }} C: {{ gen('citations', regex='[1-5]') }}"
    )
    llm.reply = lambda prompt, slot: {"answer": "Gustave Eiffel", "citations": "2"}[slot.name]
    result = invoke(
        "ask", "Who built it?", "--template", tpl, "--json", "--max-attempts", "1",
        "--context-tokens", "0",
    )  # fmt: skip
    data = json.loads(result.stdout)
    assert llm.prompts[0] == "Q: Who built it? (5 sources) A: "
    assert llm.prompts[1] == "Q: Who built it? (5 sources) A: Gustave Eiffel C: "
    assert [a["answer"] for a in data["attempts"]] == ["Gustave Eiffel"]
    # the citation is set by the source that supports the answer: the Eiffel Tower's, 5th
    assert [a["citations"] for a in data["attempts"]] == [[5]]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("ask", "   "), 2, "the question is empty"),
        (("search", ""), 2, "the question is empty"),
        (("ask", "anything?"), 1, "nothing has been ingested yet"),
        (("search", "anything?"), 1, "nothing has been ingested yet"),
        (("ask", "x?", "--template", "nope"), 1, "no template named 'nope'"),
        (("ask", "x?", "--template", "/no/such.j2"), 1, "template file not found"),
        (("docs", "rm", "/no/such/file.md"), 1, "not in the store"),
    ],
)
def test_errors_are_one_clear_line(fakes, args, code, message):
    result = invoke(*args)
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_broken_template_is_a_clear_error(ingested, tmp_path):
    tpl = tmp_path / "bad.j2"
    tpl.write_text("{{ question }")
    result = invoke("ask", "Who?", "--template", tpl)
    assert (
        result.exit_code == 1 and "template" in result.stderr and "Traceback" not in result.output
    )


def test_missing_model_says_where_it_looked(ingested, monkeypatch, tmp_path):
    from docqa import components as components_module
    from docqa.components import Components
    from tests.fakes import FakeEmbedder

    monkeypatch.setattr(
        components_module, "build", lambda s: Components(s, embedder=FakeEmbedder())
    )
    result = invoke("ask", "Who?", "--model", tmp_path / "none.gguf")
    assert result.exit_code == 1
    assert f"model not found: {tmp_path / 'none.gguf'} is neither a file nor a model name" in (
        result.stderr
    )


def test_corrupt_model_is_a_clear_error(ingested, monkeypatch, tmp_path):
    from docqa import components as components_module
    from docqa.components import Components
    from tests.fakes import FakeEmbedder

    monkeypatch.setattr(
        components_module, "build", lambda s: Components(s, embedder=FakeEmbedder())
    )
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    result = invoke("ask", "Who?", "--model", bad)
    assert result.exit_code == 1 and "not a GGUF model file" in result.stderr


def test_docs_list_and_rm(ingested):
    listing = json.loads(invoke("docs", "list", "--json").stdout)["documents"]
    assert len(listing) == 26
    assert {"path", "format", "title", "chunks", "size", "sha256", "ingested_at"} <= set(listing[0])
    target = ingested / "coffee.html"
    removed = json.loads(invoke("docs", "rm", target, "--json").stdout)
    assert removed == {"removed": [str(target)]}
    assert len(json.loads(invoke("docs", "list", "--json").stdout)["documents"]) == 25
    data = json.loads(invoke("search", "coffee espresso beans", "--json").stdout)
    assert all(not h["path"].endswith("coffee.html") for h in data["hits"])


def _all_commands():
    import typer.main

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        sub = getattr(cmd, "commands", None)
        if sub:
            for sub_name, sub_cmd in sub.items():
                yield f"{name} {sub_name}", sub_cmd
        else:
            yield name, cmd


@pytest.mark.parametrize(("name", "command"), list(_all_commands()), ids=lambda x: str(x))
def test_every_command_and_option_has_help(name, command):
    assert command.help, f"{name} has no help text"
    for param in command.params:
        if param.param_type_name == "option":
            assert param.help, f"{name} {param.opts} has no help text"


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from typer.testing import CliRunner; from docqa.cli import app; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
        "r = CliRunner().invoke(app, ['docs', 'list']); "
        "print([m for m in ('torch', 'sentence_transformers', 'llama_cpp', 'transformers') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_corrupt_database_is_a_clear_error(fakes, docqa_home):
    docqa_home.mkdir(parents=True)
    (docqa_home / "docqa.db").write_bytes(b"this is not sqlite" * 100)
    result = invoke("docs", "list")
    assert result.exit_code == 1
    assert "cannot open the docqa database" in result.stderr and "Traceback" not in result.output


def test_a_parser_crash_costs_one_file(fakes, docs, monkeypatch):
    from docqa.ingest import loaders

    real = loaders.html_blocks

    def exploding(text):
        if "Chomolungma" in text:
            raise AssertionError("parser bug")
        return real(text)

    monkeypatch.setattr(loaders, "html_blocks", exploding)
    result = invoke("ingest", docs, "--json")
    assert result.exit_code == 3
    summary = json.loads(result.stdout)
    assert summary["added"] == 25
    [failure] = summary["failed"]
    assert failure["path"].endswith("mount_everest.html")
    assert failure["reason"] == "cannot parse: AssertionError: parser bug"


def test_ask_with_beams_takes_the_most_likely_reply(ingested, fakes):
    _, llm = fakes
    weak = json.dumps({"answer": "Weak.", "citations": [2], "answerable": True})
    strong = json.dumps({"answer": LATTICE, "citations": [1], "answerable": True})
    llm.beam_options = lambda prompt, slot: [(strong, -0.2), (weak, -0.9)]
    data = json.loads(invoke("ask", "What is the Eiffel Tower?", "--beams", "2", "--json").stdout)
    assert data["answer"] == LATTICE and [c["n"] for c in data["citations"]] == [1]


def test_the_extractive_template_offers_only_source_sentences(ingested, fakes):
    _, llm = fakes

    def choose(prompt, slot):
        assert slot.name == "sentence" and slot.kind == "choices"
        return next(c for c in slot.choices if "1889" in c)

    llm.reply = choose
    data = json.loads(
        invoke(
            "ask", "When was the Eiffel Tower inaugurated?", "--template", "extractive", "--json"
        ).stdout
    )
    slot = llm.slots[0]
    assert slot.choices[-1] == "[0] The documents do not say."
    for choice in slot.choices[:-1]:
        n, sentence = choice.split("] ", 1)
        assert n.startswith("[") and 1 <= int(n[1:]) <= 5 and sentence
        assert sentence in llm.prompts[0]  # verbatim text of the sources shown
    assert data["template"] == "extractive" and data["answerable"] is True
    [citation] = data["citations"]
    assert data["answer"] in citation["text"]  # copied, word for word
    assert "1889" in data["answer"]


def test_extractive_mode_answers_with_the_source_sentence_behind_the_models_answer(ingested, fakes):
    from tests.fakes import copy_reply

    _, llm = fakes
    written = {"answer": "It was inaugurated on 31 March 1889.", "citations": []}
    written["answerable"] = True
    llm.reply = lambda prompt, slot: written if slot.name == "reply" else copy_reply(prompt, slot)
    data = json.loads(
        invoke(
            "ask", "When was the Eiffel Tower inaugurated?", "--mode", "extractive", "--json"
        ).stdout
    )
    # the model wrote a paraphrase; the answer is the source's own sentence, cited
    assert data["status"] == "grounded" and data["template"] == "qa"
    assert data["answer"] == (
        "The tower was completed in March 1889 and was inaugurated on 31 March 1889, when "
        "Eiffel climbed to the top and raised the French flag."
    )
    [citation] = data["citations"]
    assert data["answer"] in citation["text"] and citation["path"].endswith("eiffel_tower.txt")
    assert data["grounding"]["sentences"][0]["how"] == "verbatim"


def test_extractive_not_found_choice(ingested, fakes):
    _, llm = fakes
    llm.reply = lambda prompt, slot: slot.choices[-1] if slot.choices else "football 1998"
    data = json.loads(
        invoke("ask", "Who won the 1998 World Cup?", "--template", "extractive", "--json").stdout
    )
    assert (data["answerable"], data["citations"], data["status"]) == (False, [], "unanswerable")
    assert data["answer"] == "The documents do not say."
    # the question, then a rewrite, both with the template asked for
    assert [a["strategy"] for a in data["attempts"]] == ["initial", "rewrite"]
    assert [a["template"] for a in data["attempts"]] == ["extractive", "extractive"]
    assert data["attempts"][1]["queries"] == ["Who won the 1998 World Cup?", "football 1998"]


def test_run_fills_a_template_with_typed_variables(fakes, tmp_path):
    _, llm = fakes
    tpl = tmp_path / "t.j2"
    tpl.write_text("{{ who }} has {{ n + 1 }} items: {{ gen('list', stop='\\n') }}")
    llm.reply = lambda prompt, slot: "a, b"
    result = invoke("run", tpl, "--var", "who=Ada", "--var", "n:=2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["text"] == "Ada has 3 items: a, b"
    assert data["slots"] == {"list": "a, b"}
    assert set(data["tokens"]) == {"prompt", "cached", "completion"}
    assert {"generate", "template", "total"} <= set(data["timings"])
    assert data["fills"][0]["constraint"] == {"kind": "text", "max_tokens": 64, "stop": ["\n"]}
    human = invoke("run", tpl, "--var", "who=Bo", "--var", "n:=0")
    assert human.exit_code == 0 and "Bo has 1 items: a, b" in human.stdout


@pytest.mark.parametrize(
    ("var", "message"),
    [("novalue", "KEY=VALUE or KEY:=JSON"), ("n:=[1,", "not JSON"), ("1x=2", "KEY=VALUE")],
)
def test_run_rejects_bad_variables(fakes, tmp_path, var, message):
    tpl = tmp_path / "t.j2"
    tpl.write_text("x")
    result = invoke("run", tpl, "--var", var)
    assert result.exit_code == 2 and message in result.stderr


def test_an_unknown_setting_in_docqa_toml_is_a_clear_error(fakes, docqa_home):
    docqa_home.mkdir(parents=True)
    (docqa_home / "docqa.toml").write_text("k = 3\nchunk_tokenz = 100\n")
    result = invoke("docs", "list")
    assert result.exit_code == 1
    assert "unknown setting chunk_tokenz" in result.stderr and "Traceback" not in result.output
