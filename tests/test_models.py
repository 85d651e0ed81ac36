"""Reader models by name: parts joined once and checked by sha256, stamps, clear errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from docqa import models
from docqa.config import Settings, resolve_model_path
from docqa.errors import ModelError
from tests.cli import invoke
from tests.conftest import READER

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 700, b"c" * 333]


@pytest.fixture
def parted(tmp_path, monkeypatch):
    """A model of three parts, each in a package folder of its own, registered as "tiny"."""
    folders = {}
    for i, data in enumerate(PARTS, start=1):
        folder = tmp_path / "site" / f"tiny_part{i}"
        (folder / "data").mkdir(parents=True)
        (folder / "data" / f"part{i:02d}.bin").write_bytes(data)
        folders[f"tiny_part{i}"] = folder
    spec = models.ModelSpec(
        name="tiny",
        title="Tiny test model",
        file="tiny.gguf",
        parts=models._parts("tiny-part", "tiny_part", 3, "1.0"),
        sha256=hashlib.sha256(b"".join(PARTS)).hexdigest(),
        size=sum(map(len, PARTS)),
        licence="MIT",
        source="tests",
        extra="tiny",
    )
    monkeypatch.setattr(models, "package_dir", lambda module: folders.get(module))
    monkeypatch.setitem(models.MODELS, "tiny", spec)
    return spec, folders


def test_parts_are_joined_once_checked_and_stamped(parted, tmp_path, monkeypatch):
    spec, _ = parted
    model_dir = tmp_path / "models"
    path = models.locate(spec, model_dir)
    assert path == model_dir / "tiny.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    stamp = json.loads((model_dir / "tiny.verified.json").read_text())
    assert stamp["sha256"] == spec.sha256 and stamp["size"] == spec.size
    # the next load trusts the stamp: no hashing, no joining
    monkeypatch.setattr(models, "file_digest", lambda p: pytest.fail("hashed again"))
    monkeypatch.setattr(models, "_join", lambda *a: pytest.fail("joined again"))
    assert models.locate(spec, model_dir) == path
    assert sorted(p.name for p in model_dir.iterdir()) == ["tiny.gguf", "tiny.verified.json"]


def test_a_changed_file_is_joined_again_and_verify_rehashes(parted, tmp_path):
    spec, _ = parted
    model_dir = tmp_path / "models"
    path = models.locate(spec, model_dir)
    path.write_bytes(b"GGUF" + b"x" * (spec.size - 4))  # new mtime: the stamp no longer holds
    assert models.locate(spec, model_dir).read_bytes() == b"".join(PARTS)
    stat = path.stat()
    with open(path, "r+b") as f:  # same size, and the stamp's mtime put back
        f.seek(10)
        f.write(b"z")
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert models.locate(spec, model_dir) == path  # a stamp is trusted
    assert models.verify(spec, model_dir) == str(path)  # --verify is not fooled
    assert path.read_bytes() == b"".join(PARTS)


def test_wrong_parts_leave_nothing_behind(parted, tmp_path):
    spec, folders = parted
    (folders["tiny_part2"] / "data" / "part02.bin").write_bytes(b"B" * 700)
    model_dir = tmp_path / "models"
    with pytest.raises(ModelError) as exc:
        models.locate(spec, model_dir)
    assert "do not make the expected file" in str(exc.value)
    assert "pip install 'docqa[tiny]' --force-reinstall" in str(exc.value)
    assert list(model_dir.iterdir()) == []


def test_a_missing_part_says_what_to_install(parted, tmp_path, monkeypatch):
    spec, folders = parted
    del folders["tiny_part3"]
    with pytest.raises(ModelError) as exc:
        models.locate(spec, tmp_path / "models")
    assert str(exc.value) == (
        "model tiny is not installed (missing tiny-part3==1.0); install it with "
        "`pip install 'docqa[tiny]'`, or pass --model PATH to a GGUF file"
    )


def test_model_setting_takes_a_name_or_a_path(parted, tmp_path):
    spec, _ = parted
    settings = Settings(home=tmp_path, model="tiny", model_dir=tmp_path / "m")
    assert resolve_model_path(settings) == tmp_path / "m" / "tiny.gguf"
    gguf = tmp_path / "own.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model_path(Settings(home=tmp_path, model=str(gguf))) == gguf
    with pytest.raises(ModelError) as exc:
        resolve_model_path(Settings(home=tmp_path, model="qwen9"))
    assert "qwen9 is neither a file nor a model name" in str(exc.value)
    assert "smollm2-135m" in str(exc.value)


def test_models_command_lists_installed_models(parted, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCQA_MODEL_DIR", str(tmp_path / "m"))
    data = json.loads(invoke("models", "--json").stdout)
    rows = {r["name"]: r for r in data["models"]}
    assert set(models.MODELS) == set(rows)
    tiny = rows["tiny"]
    assert (tiny["installed"], tiny["joined"], tiny["licence"], tiny["bytes"]) == (
        True,
        False,
        "MIT",
        2037,
    )
    assert not rows["smollm2-135m"]["installed"]  # outside tests marked models: hidden
    assert rows[READER]["selected"] and rows[models.DEFAULT_MODEL]["default"]  # DOCQA_MODEL
    verified = json.loads(invoke("models", "--verify", "--json", "--model", "tiny").stdout)
    tiny = {r["name"]: r for r in verified["models"]}["tiny"]
    assert tiny["verified"] and tiny["joined"] and tiny["selected"]
    assert Path(tiny["path"]).read_bytes() == b"".join(PARTS)


def test_each_models_packages_are_pinned_where_its_install_hint_says():
    """The default reader's parts are default dependencies; another model's are in the extra
    its error message tells the user to install, pinned to the versions the registry checks."""
    import tomllib

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())[
        "project"
    ]
    for spec in models.MODELS.values():
        pins = {p.requirement for p in spec.parts}
        if spec.name == models.DEFAULT_MODEL or spec.extra is None:
            assert pins <= set(project["dependencies"]), spec.name
        else:
            assert pins <= set(project["optional-dependencies"][spec.extra]), spec.name
    assert models.MODELS[models.DEFAULT_MODEL].extra is None
