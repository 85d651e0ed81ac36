"""End to end on the real bundled models: all-MiniLM-L6-v2 and SmolLM2-135M-Instruct."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from docqa.cli import app
from docqa.flows.reply import ANSWER_PATTERN, MAX_CITATIONS
from tests.conftest import REPO

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
    assert (summary["files_seen"], summary["added"], summary["failed"]) == (17, 17, [])
    assert summary["chunks_added"] == summary["chunks_total"] > 60
    from docqa.store import Store

    store = Store.open(home / "docqa.db")
    assert store.embedder().name == "all-MiniLM-L6-v2" and store.embedder().dimension == 384
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
    assert sum(top1) / len(top1) >= 0.95  # measured: 36/36


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
    assert (again["unchanged"], again["chunks_added"]) == (17, 0)
    target = docs / "science" / "mars.html"
    target.write_text(
        target.read_text().replace(
            "</body>", "<p>Mars has two moons, Phobos and Deimos, discovered in 1877.</p></body>"
        )
    )
    edited = json.loads(invoke(home, "ingest", docs, "--json").stdout)
    listing = json.loads(invoke(home, "docs", "list", "--json").stdout)["documents"]
    mars_chunks = next(d["chunks"] for d in listing if d["path"] == str(target))
    assert (edited["updated"], edited["unchanged"]) == (1, 16)
    assert edited["chunks_added"] == mars_chunks
    assert edited["chunks_total"] == again["chunks_total"] - 3 + mars_chunks  # mars had 3
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
        assert data["template"] == "extractive"
        if data["answerable"]:
            [citation] = data["citations"]
            assert data["answer"] in citation["text"]
        else:
            assert data["answer"] == "The documents do not say." and data["citations"] == []
