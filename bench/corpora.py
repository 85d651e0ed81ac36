"""Real corpora for the benchmarks, fetched on demand (never by tests or by docqa itself)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

PYTHON_DOCS = "python3.11-doc"  # Debian's package of the Python 3.11 documentation
# the PostgreSQL 15 manual: the corpus of the retrieval and answer question sets (bench/data)
POSTGRES_DOCS = "postgresql-doc-15"
# a Sphinx (reST) corpus for the plain-text view: the docs/ of sqlite-utils' source distribution
SQLITE_UTILS = "sqlite-utils==4.2.1"


def python_docs(dest: Path) -> Path:
    """The Python 3.11 documentation (530 HTML files, ~67 MB, and their reST sources) from
    Debian's package, downloaded with apt-get and unpacked under `dest`; returns the folder
    holding `html/`. Needs apt-get and a reachable Debian mirror."""
    return debian_docs(PYTHON_DOCS, dest / "python-docs", "python3.11").parent


def postgres_docs(dest: Path) -> Path:
    """The PostgreSQL 15 manual (1,169 HTML pages, 18 MB) from Debian's package, unpacked
    under `dest`; returns its `html/` folder. Needs apt-get and a reachable Debian mirror."""
    return debian_docs(POSTGRES_DOCS, dest / "postgres-docs", "postgresql-doc-15")


def sqlite_utils_docs(dest: Path) -> Path:
    """The reStructuredText documentation of sqlite-utils 4.2.1 (11 .rst files, 0.44 MB, the
    `docs/` folder of its source distribution on PyPI), downloaded with pip once into
    `dest`; returns that folder. Needs a reachable package index."""
    root = dest / "sqlite-utils"
    docs = root / SQLITE_UTILS.replace("-", "_").replace("==", "-") / "docs"
    if docs.is_dir():
        return docs
    root.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", SQLITE_UTILS, "--no-deps", "--no-binary"]
    try:
        subprocess.run([*pip, ":all:", "-d", str(root)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise SystemExit(f"cannot download {SQLITE_UTILS}: {exc} {detail.decode()[-300:]}") from exc
    with tarfile.open(next(root.glob("sqlite_utils-*.tar.gz"))) as sdist:
        sdist.extractall(root, filter="data")
    return docs


def debian_docs(package: str, root: Path, doc_dir: str) -> Path:
    """`usr/share/doc/DOC_DIR/html` of a Debian package, downloaded once into `root`."""
    html = root / "usr" / "share" / "doc" / doc_dir / "html"
    if html.is_dir():
        return html
    root.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["apt-get", "download", package], cwd=root, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise SystemExit(
            f"cannot fetch {package} with apt-get download: {exc} {detail.decode()[-300:]}"
        ) from exc
    deb = next(root.glob(f"{package}_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return html


def paragraphs(docs: Path, min_chars: int = 40, max_chars: int = 400) -> list[str]:
    """Prose paragraphs of the documentation's reST sources, in a fixed order."""
    out = []
    for file in sorted((docs / "html" / "_sources").rglob("*.txt")):
        for block in file.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            text = " ".join(block.split())
            if min_chars <= len(text) <= max_chars and not text.startswith(("..", ":", "=", "-")):
                out.append(text)
    return out
