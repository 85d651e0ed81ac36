"""The monitoring report as one self-contained HTML file: the report's tables, and its plots
drawn by matplotlib as inline SVG (no script, no network, nothing beside the file)."""

from __future__ import annotations

import io
from pathlib import Path

from docqa.errors import DocqaError

TEMPLATE = Path(__file__).with_name("report.html.j2")
REFERENCE, CURRENT = "#7f8c9a", "#d9480f"


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML prolog or doctype


def plots(report: dict) -> dict[str, str]:
    """SVG plots by name: the question map, topic shares, retrieval similarity, groundedness,
    latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out: dict[str, str] = {}
    data = report.get("data", {})
    points = data.get("map", {})
    if points.get("current") or points.get("reference"):
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, colour in (("reference", REFERENCE), ("current", CURRENT)):
            xy = np.array(points.get(name) or np.zeros((0, 2)))
            if len(xy):
                ax.scatter(xy[:, 0], xy[:, 1], s=14, c=colour, alpha=0.7, label=name)
        ax.set_title("Questions (first two principal components)")
        ax.legend()
        out["map"] = _svg(fig)
    topics = [t for t in report["drift"].get("topics", []) if "reference" in t]
    if topics:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        x = np.arange(len(topics))
        ax.bar(x - 0.2, [t["reference"] for t in topics], 0.4, color=REFERENCE, label="reference")
        ax.bar(x + 0.2, [t["current"] for t in topics], 0.4, color=CURRENT, label="current")
        ax.set_xticks(x, [t["name"].replace(" share", "") for t in topics])
        ax.set_ylabel("share of questions")
        ax.set_title("Topics")
        ax.legend()
        out["topics"] = _svg(fig)
    sims = data.get("top_similarity", {})
    if sims.get("current") or sims.get("reference"):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for name, colour in (("reference", REFERENCE), ("current", CURRENT)):
            if sims.get(name):
                ax.hist(sims[name], bins=20, alpha=0.6, color=colour, label=name, density=True)
        ax.set_xlabel("cosine similarity of the best retrieved chunk")
        ax.set_title("Retrieval")
        ax.legend()
        out["retrieval"] = _svg(fig)
    rates = report["hallucination"]["rates"]
    if report["hallucination"]["n"]:
        fig, ax = plt.subplots(figsize=(6, 3))
        names = list(rates)
        values = [rates[n]["rate"] for n in names]
        errors = [
            [v - rates[n]["ci"][0] for n, v in zip(names, values, strict=True)],
            [rates[n]["ci"][1] - v for n, v in zip(names, values, strict=True)],
        ]
        ax.barh([n.replace("_", " ") for n in names], values, xerr=errors, color=CURRENT)
        ax.set_xlim(0, 1)
        ax.set_title("Answers by groundedness (95% intervals)")
        out["groundedness"] = _svg(fig)
    latency = report["operations"]["latency"]
    if latency:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        stages = list(latency)
        x = np.arange(len(stages))
        for i, (q, colour) in enumerate(
            (("p50", "#74c0fc"), ("p95", "#1c7ed6"), ("p99", "#0b3d91"))
        ):
            ax.bar(x + (i - 1) * 0.27, [latency[s][q] for s in stages], 0.27, color=colour, label=q)
        ax.set_xticks(x, stages)
        ax.set_ylabel("seconds")
        ax.set_title("Latency per stage")
        ax.legend()
        out["latency"] = _svg(fig)
    return out


def render_html(report: dict) -> str:
    from jinja2 import Environment, StrictUndefined
    from markupsafe import Markup

    env = Environment(autoescape=True, undefined=StrictUndefined)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    svgs = {name: Markup(svg) for name, svg in plots(report).items()}  # our own SVG, not data
    return template.render(r=report, plots=svgs)


def write_html(report: dict, path: Path) -> None:
    try:
        path.write_text(render_html(report), encoding="utf-8")
    except OSError as exc:
        raise DocqaError(f"cannot write {path}: {exc.strerror or exc}") from exc
