"""End to end on the real bundled models: all-MiniLM-L6-v2 and SmolLM2-135M-Instruct."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docqa.cli import app
from docqa.flows.groundedness import split_sentences
from docqa.flows.reply import ANSWER_PATTERN, MAX_CITATIONS
from tests.conftest import READER, REPO

pytestmark = pytest.mark.models
runner = CliRunner()
QUESTIONS = json.loads((REPO / "tests" / "sample_questions.json").read_text())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """sample_docs copied and ingested once, with the real embedder, into one home."""
    import shutil

    root = tmp_path_factory.mktemp("real")
    docs = root / "docs"
    shutil.copytree(REPO / "sample_docs", docs)
    home = root / "home"
    result = runner.invoke(app, ["ingest", str(docs), "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    return docs, home, json.loads(result.stdout)


def invoke(home: Path, *args):
    return runner.invoke(app, [*map(str, args), "--home", str(home)])


def rel(path: str, docs: Path) -> str:
    return str(Path(path).relative_to(docs))


def test_ingest_sample_docs(corpus):
    docs, home, summary = corpus
    assert (summary["files_seen"], summary["added"], summary["failed"]) == (26, 26, [])
    assert summary["chunks_added"] == summary["chunks_total"] > 60
    from docqa.store import Store

    store = Store.open(home / "docqa.db")
    assert (
        store.corpus.embedder().name == "all-MiniLM-L6-v2"
        and store.corpus.embedder().dimension == 384
    )
    # the MiniLM tokenizer's count plus [CLS] and [SEP] never exceeds the 256-token window
    assert store.conn.execute("SELECT max(n_tokens) FROM chunks").fetchone()[0] + 2 <= 256


def test_search_finds_the_right_document_for_every_sample_question(corpus):
    docs, home, _ = corpus
    answerable = [q for q in QUESTIONS if q["answerable"]]
    result = runner.invoke(
        app,
        ["search", "-", "--home", str(home)],
        input="\n".join(q["question"] for q in answerable),
    )
    assert result.exit_code == 0
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    top1 = [
        rel(d["hits"][0]["path"], docs) == q["file"] for q, d in zip(answerable, lines, strict=True)
    ]
    assert sum(top1) / len(top1) >= 0.95  # measured: 54/54


def test_ask_cites_the_document_that_holds_the_answer(corpus):
    docs, home, _ = corpus
    result = invoke(
        home, "ask", "Who performed the first human-to-human heart transplant?", "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert re.match(ANSWER_PATTERN, data["answer"])
    assert isinstance(data["answerable"], bool)
    assert 1 <= len(data["citations"]) <= MAX_CITATIONS
    assert {rel(c["path"], docs) for c in data["citations"]} == {"science/human_heart.md"}
    assert data["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert data["tokens"]["prompt"] > 200 and data["tokens"]["completion"] > 5
    assert all(data["timings"][k] >= 0 for k in ("embed", "retrieve", "prompt", "generate"))


def test_ask_stdin_replies_are_valid_and_schema_bound(corpus):
    docs, home, _ = corpus
    picked = [QUESTIONS[0], QUESTIONS[5], next(q for q in QUESTIONS if not q["answerable"])]
    result = runner.invoke(
        app,
        ["ask", "-", "-k", "3", "--home", str(home)],
        input="\n".join(q["question"] for q in picked),
    )
    assert result.exit_code == 0, result.output
    answers = [json.loads(x) for x in result.stdout.splitlines()]
    assert [a["question"] for a in answers] == [q["question"] for q in picked]
    for a in answers:
        assert re.match(ANSWER_PATTERN, a["answer"])
        assert all(1 <= c["n"] <= 3 for c in a["citations"])
        assert len({c["n"] for c in a["citations"]}) == len(a["citations"])


def test_reingest_adds_nothing_and_an_edit_re_embeds_only_that_file(corpus):
    docs, home, _ = corpus
    again = json.loads(invoke(home, "ingest", docs, "--json").stdout)
    assert (again["unchanged"], again["chunks_added"]) == (26, 0)
    target = docs / "science" / "mars.html"
    before = json.loads(invoke(home, "docs", "list", "--json").stdout)["documents"]
    mars_before = next(d["chunks"] for d in before if d["path"] == str(target))
    assert mars_before == 6  # one chunk per section
    target.write_text(
        target.read_text().replace(
            "</body>", "<p>Mars has two moons, Phobos and Deimos, discovered in 1877.</p></body>"
        )
    )
    edited = json.loads(invoke(home, "ingest", docs, "--json").stdout)
    listing = json.loads(invoke(home, "docs", "list", "--json").stdout)["documents"]
    mars_chunks = next(d["chunks"] for d in listing if d["path"] == str(target))
    assert (edited["updated"], edited["unchanged"]) == (1, 25)
    assert edited["chunks_added"] == mars_chunks
    assert edited["chunks_total"] == again["chunks_total"] - mars_before + mars_chunks
    hit = json.loads(invoke(home, "search", "moons Phobos Deimos 1877", "--json").stdout)["hits"][0]
    assert hit["path"] == str(target) and "Phobos" in hit["text"]


def test_a_corrupt_gguf_is_a_clear_error(corpus, tmp_path):
    _, home, _ = corpus
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + bytes(64))
    result = invoke(home, "ask", "What is Mars?", "--model", bad)
    assert result.exit_code == 1
    assert f"cannot load model {bad}" in result.stderr and "Traceback" not in result.output


def test_another_embedder_is_refused(corpus, tmp_path):
    docs, home, _ = corpus
    fake = tmp_path / "other-embedder"
    fake.mkdir()
    (fake / "config.json").write_text(json.dumps({"hidden_size": 768}))
    result = invoke(home, "search", "Mars", "--embedder", fake)
    assert result.exit_code == 1
    assert "built with the embedder all-MiniLM-L6-v2 (384-d)" in result.stderr


def test_extractive_answers_are_copied_from_the_cited_source(corpus):
    docs, home, _ = corpus
    questions = [q["question"] for q in QUESTIONS[:4]] + ["What is the population of Tokyo?"]
    result = runner.invoke(
        app, ["ask", "-", "--mode", "extractive", "--home", str(home)], input="\n".join(questions)
    )
    assert result.exit_code == 0, result.output
    for line in result.stdout.splitlines():
        data = json.loads(line)
        if data["answerable"]:  # each sentence of the answer is a sentence of a cited source
            cited = " ".join(" ".join(c["text"].split()) for c in data["citations"])
            for sentence in split_sentences(data["answer"]):
                assert " ".join(sentence.split()) in cited
        else:
            assert data["answer"] == "The documents do not say." and data["citations"] == []


def test_loop_rejects_an_invented_answer_and_says_so(corpus):
    """SmolLM2 answers "The population of Tokyo is ..." from sources about other things: the
    invented name and number fail groundedness, every attempt is recorded, and the final answer
    is not a silent hallucination."""
    docs, home, _ = corpus
    result = invoke(home, "ask", "What is the population of Tokyo?", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    first = data["attempts"][0]
    assert first["strategy"] == "initial" and first["passed"] is False
    assert [a["strategy"] for a in data["attempts"]] == ["initial", "rewrite"][
        : len(data["attempts"])
    ]
    assert data["status"] in ("unanswerable", "partially_grounded", "grounded")
    if data["status"] == "unanswerable":
        assert data["answer"] == "The documents do not say." and data["citations"] == []
    elif data["status"] == "grounded":  # only an answer that passed every validator
        assert data["attempts"][-1]["passed"] is True
        assert data["grounding"]["status"] == "grounded"
    else:  # partially grounded: the unsupported sentences are flagged
        assert any(not s["supported"] for s in data["grounding"]["sentences"])
    from docqa.store import Store

    steps = [s.to_json() for s in Store.open(home / "docqa.db").journal.steps(data["id"])]
    validations = [s["data"] for s in steps if s["stage"] == "validate"]
    assert [v["attempt"] for v in validations] == list(range(1, len(data["attempts"]) + 1))
    assert validations[-1]["next"] == "final"


def _cached(answer: dict) -> int:
    return answer["attempts"][0]["tokens"]["cached"]


def test_session_turns_restore_the_history_from_the_prefix_cache(corpus, tmp_path):
    """Each `ask --session` is a new model process state: turn 3 restores the KV state of the
    history through turn 1 from disk, so it evaluates fewer tokens than it would otherwise."""
    docs, home, _ = corpus
    questions = [
        "What did Joseph Priestley find in 1771?",
        "Who discovered that light is needed?",
        "Which enzyme fixes carbon dioxide in the Calvin cycle?",
    ]
    turns = []
    for q in questions:
        result = invoke(home, "ask", q, "--session", "photo", "--max-attempts", "1", "--json")
        assert result.exit_code == 0, result.output
        turns.append(json.loads(result.stdout))
    assert [t["turn"] for t in turns] == [1, 2, 3]
    # turn 2 restores the static prefix; turn 3 the static prefix and turn 1 of the history
    assert _cached(turns[2]) > _cached(turns[1]) + 10
    from docqa.store import Store

    session = Store.open(home / "docqa.db").people.session("photo")
    assert session["turns"] == 3
    assert session["prompt_tokens"] == sum(t["tokens"]["prompt"] for t in turns)


def test_chat_reuses_the_context_across_turns(corpus):
    docs, home, _ = corpus
    lines = [
        "Who performed the first human-to-human heart transplant?",
        "In which city?",
        "How many chambers does the heart have?",
        "/quit",
    ]
    result = runner.invoke(
        app,
        ["chat", "--json", "--max-attempts", "1", "--home", str(home)],
        input="\n".join(lines) + "\n",
    )
    assert result.exit_code == 0, result.output
    turns = [json.loads(x) for x in result.stdout.splitlines()]
    assert [t["turn"] for t in turns] == [1, 2, 3]
    assert turns[1]["attempts"][0]["queries"] == [
        "In which city?",
        "Who performed the first human-to-human heart transplant? In which city?",
    ]
    # in one process the history read in turn 2 is still in the context in turn 3
    assert _cached(turns[2]) > _cached(turns[1]) + 10


def test_questions_embedded_by_the_onnx_export_match_the_model_and_retrieve_the_same(corpus):
    """`docqa ingest` exported the embedder to ONNX; questions embedded with it give the
    model's own vectors and exactly the same search results for every sample question."""
    from docqa.adapters.onnx_embedder import OnnxEmbedder
    from docqa.components import Components
    from docqa.config import load_settings
    from docqa.flows.retrieve import retrieve

    docs, home, summary = corpus
    assert summary["query_embedder"]["backend"] == "onnx"
    comps = Components(load_settings(home=home))
    onnx, model = comps.embedder, comps.document_embedder
    assert isinstance(onnx, OnnxEmbedder) and onnx.name == model.name
    questions = [q["question"] for q in QUESTIONS]
    got, want = onnx.embed(questions), model.embed(questions)
    assert float((got * want).sum(axis=1).min()) >= 0.99999
    for q in questions:
        ids = [
            [
                h.chunk_id
                for h in retrieve(q, store=comps.store, embedder=e, index=comps.index, k=5).hits
            ]
            for e in (onnx, model)
        ]
        assert ids[0] == ids[1], q
    comps.close()


def test_a_question_in_a_new_process_never_imports_torch(corpus):
    import subprocess
    import sys

    docs, home, _ = corpus
    argv = ["docqa", "search", "When was the Eiffel Tower inaugurated?", "--json"]
    code = (
        "import sys\n"
        "from docqa.cli import main\n"
        f"sys.argv = {[*argv, '--home', str(home)]!r}\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers')\n"
        "print(sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)["hits"]
    assert rel(hits[0]["path"], docs) == "eiffel_tower.txt"
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_a_question_that_retrieves_the_same_sources_again_prefills_only_itself(corpus):
    """The sources end at a cache point: asking again in a new model state restores the KV
    state of the static prefix and the sources from disk, and the answer is the same."""
    docs, home, _ = corpus
    question = "How many steps lead to the top of the Eiffel Tower?"
    runs = []
    for _ in range(2):
        result = invoke(home, "ask", question, "--max-attempts", "1", "--json")
        assert result.exit_code == 0, result.output
        runs.append(json.loads(result.stdout))
    first, second = runs
    assert first["answer"] == second["answer"]
    question_tokens = 40  # "Question: ...", the assistant marker and the healed token
    assert _cached(second) >= second["tokens"]["prompt"] - question_tokens > _cached(first)
    assert 0 < second["timings"]["first_token"] < second["timings"]["total"]


def test_vocabulary_tables_read_from_disk_equal_the_ones_built(tmp_path):
    """The tables a cold process reads instead of walking the vocabulary: the same token
    bytes, and an llguidance tokenizer that agrees with llguidance's own builder."""
    from llguidance.llamacpp import lltokenizer_from_vocab

    from docqa.adapters.llama_engine import LlamaEngine
    from docqa.config import load_settings, resolve_model_path

    path = resolve_model_path(load_settings(home=tmp_path, model=READER))
    built = LlamaEngine(path, tables_dir=tmp_path / "tables")
    read = LlamaEngine(path, tables_dir=tmp_path / "tables")
    assert built.token_bytes == [built.detokenize([t]) for t in range(built.n_vocab)]
    assert len(list((tmp_path / "tables").glob("vocab-bytes-*.npz"))) == 1
    assert read.token_bytes == built.token_bytes
    mine, theirs = built.guidance_tokenizer, lltokenizer_from_vocab(built.llm._model.vocab)
    mine = read.guidance_tokenizer
    assert mine.vocab_size == theirs.vocab_size and mine.eos_token == theirs.eos_token
    tokens = list(range(built.n_vocab))
    assert [mine.decode_bytes([t]) for t in tokens] == [theirs.decode_bytes([t]) for t in tokens]
    assert [mine.is_special_token(t) for t in tokens] == [
        theirs.is_special_token(t) for t in tokens
    ]


def test_the_default_reader_answers_a_sample_question(corpus):
    """The default reader (not the fast one the other tests run), by name: the answer holds
    the expected fact, is grounded, and cites the document that holds it."""
    from docqa.models import DEFAULT_MODEL, MODELS

    docs, home, _ = corpus
    question = "Which aircraft carrier recovered the Apollo 11 crew after splashdown?"
    expected = "USS Hornet"
    result = invoke(home, "ask", question, "--model", DEFAULT_MODEL, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "grounded" and expected.lower() in data["answer"].lower()
    assert data["model"] == MODELS[DEFAULT_MODEL].file == "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf"
    assert all(rel(c["path"], docs) == "history/apollo11.md" for c in data["citations"])
