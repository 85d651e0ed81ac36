"""Real corpora for the benchmarks, fetched on demand (never by tests or by docqa itself)."""

from __future__ import annotations

import subprocess
from pathlib import Path

PYTHON_DOCS = "python3.11-doc"  # Debian's package of the Python 3.11 documentation


def python_docs(dest: Path) -> Path:
    """The Python 3.11 documentation (530 HTML files, ~67 MB, and their reST sources) from
    Debian's package, downloaded with apt-get and unpacked under `dest`; returns the folder
    holding `html/`. Needs apt-get and a reachable Debian mirror."""
    root = dest / "python-docs"
    html = root / "usr" / "share" / "doc" / "python3.11" / "html"
    if html.is_dir():
        return html.parent
    dest.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["apt-get", "download", PYTHON_DOCS], cwd=dest, check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise SystemExit(
            f"cannot fetch {PYTHON_DOCS} with apt-get download: {exc} {detail.decode()[-300:]}"
        ) from exc
    deb = next(dest.glob(f"{PYTHON_DOCS}_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return html.parent


def paragraphs(docs: Path, min_chars: int = 40, max_chars: int = 400) -> list[str]:
    """Prose paragraphs of the documentation's reST sources, in a fixed order."""
    out = []
    for file in sorted((docs / "html" / "_sources").rglob("*.txt")):
        for block in file.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            text = " ".join(block.split())
            if min_chars <= len(text) <= max_chars and not text.startswith(("..", ":", "=", "-")):
                out.append(text)
    return out
