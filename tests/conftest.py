from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from docqa import components as components_module
from docqa.components import Components
from tests.fakes import FakeEmbedder, FakeLLM

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# the user's cache holds machine-wide facts (the llama.cpp runtime probe's verdicts): the tests
# keep theirs apart, shared by the whole run so each model is probed once
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="docqa-tests-cache-")
# it holds a joined reader model (a gigabyte): gone when the run ends, not left in /tmp
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], ignore_errors=True)

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = REPO / "sample_docs"


READER = "smollm2-135m"  # the reader model the tests run, unless one names another


@pytest.fixture(autouse=True)
def docqa_home(tmp_path, monkeypatch) -> Path:
    """Every test gets its own empty data folder; nothing touches the user's."""
    home = tmp_path / "home"
    monkeypatch.setenv("DOCQA_HOME", str(home))
    for var in ("DOCQA_EMBEDDER", "DOCQA_DEBUG", "DOCQA_USER"):
        monkeypatch.delenv(var, raising=False)
    # the tests of docqa's machinery run the fast reader; the default one is tested by name
    monkeypatch.setenv("DOCQA_MODEL", READER)
    return home


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A test not marked `models` runs as if the model packages were not installed (set before
    any fixture of it is made, module-wide ones too): one that reaches for the bundled embedder
    or language model fails with "not found", so `pytest -m "not models"` needs neither."""
    from docqa import config, models

    real = _REAL_PACKAGE_DIR.setdefault("m", models.package_dir)
    if item.get_closest_marker("models"):
        models.package_dir = real
    else:
        hidden = {config.DEFAULT_EMBEDDER_PACKAGE}
        hidden |= {
            part.module
            for spec in (*models.MODELS.values(), *models.EMBEDDERS.values())
            for part in spec.parts
        }
        models.package_dir = lambda p: None if p in hidden else real(p)


_REAL_PACKAGE_DIR: dict = {}


@pytest.fixture
def docs(tmp_path) -> Path:
    """A writable copy of the sample corpus."""
    target = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, target)
    return target


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def fakes(monkeypatch, fake_embedder, fake_llm):
    """Make the CLI build its components with the fake models."""

    def build(settings):
        return Components(settings, embedder=fake_embedder, llm=fake_llm)

    monkeypatch.setattr(components_module, "build", build)
    return fake_embedder, fake_llm


@pytest.fixture
def ingested(fakes, docs):
    """The sample corpus ingested with the fake embedder, through the CLI."""
    from tests.cli import invoke

    result = invoke("ingest", docs, "--json")
    assert result.exit_code == 0, result.output
    return docs
