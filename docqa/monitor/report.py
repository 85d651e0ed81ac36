"""`docqa monitor report`: what changed between a reference window of interactions and the
current one, at every stage of the data flow.

Every test states its reference n, current n, an effect size with a 95% confidence
interval, a p-value, and a Benjamini-Hochberg q over all the report's tests. An alert needs
q < ALPHA *and* a meaningful effect; with fewer than MIN_N interactions on a side a test is
not run and the report says so.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from docqa.monitor import stats
from docqa.monitor.text import sentiment, toxic_words

ALPHA = 0.05
MIN_N = 20
MIN_AUC = 0.6  # a drift alert needs the classifier's AUC interval above this
MIN_SHARE_CHANGE = 0.10  # a topic or rate alert needs at least 10 points of change
OUTLIER_SHARE = "outlier questions"  # the tests' names, as `alerts` lists them
GOOD_SHARE = "answers rated good"
STAGES = ("load", "embed", "retrieve", "prompt", "generate", "validate", "total")


@dataclass(frozen=True)
class Window:
    current: list[dict]
    reference: list[dict]

    @cached_property
    def current_vectors(self) -> np.ndarray:
        """The current questions' embeddings, decoded once for every section."""
        return _vectors(self.current)

    @cached_property
    def reference_vectors(self) -> np.ndarray:
        return _vectors(self.reference)


def split(rows: list[dict], *, window: int | None, since: str | None, reference_since: str | None):
    """The current window (the last `window` asks, or those from `since` on) and the
    reference (the asks before it, from `reference_since` on if given)."""
    if since is not None:
        current = [r for r in rows if r["created_at"] >= since]
    else:
        current = rows[-(window or 50) :]
    first = current[0]["id"] if current else math.inf
    reference = [r for r in rows if r["id"] < first]
    if reference_since is not None:
        reference = [r for r in reference if r["created_at"] >= reference_since]
    return Window(current, reference)


def build(
    w: Window,
    *,
    chunks: np.ndarray | None,
    paths,
    permutations=500,
    documents: list[str] | None = None,
):
    tests: list[dict] = []  # every test, to correct together
    report = {
        "window": {"current": _span(w.current), "reference": _span(w.reference)},
        "drift": _question_drift(w, tests, permutations),
        "outliers": _outliers(w, chunks, tests),
        "retrieval": _retrieval(w, tests, paths, documents or []),
        "toxicity": _toxicity(w, tests),
        "sentiment": _sentiment(w),
        "hallucination": _hallucination(w, tests),
        "feedback": _feedback(w, tests),
        "conversations": _conversations(w),
        "operations": _operations(w),
    }
    ps = [t["p"] for t in tests]
    for t, q in zip(tests, stats.benjamini_hochberg(ps) if ps else [], strict=True):
        t["q"] = round(q, 6)
        t["alert"] = bool(q < ALPHA and t.pop("_meaningful"))
    report["alerts"] = [t["name"] for t in tests if t["alert"]]
    report["tests"] = len(tests)
    return report


# -- helpers ---------------------------------------------------------------------------------
def _span(rows: list[dict]) -> dict:
    if not rows:
        return {"n": 0, "from": None, "to": None}
    return {"n": len(rows), "from": rows[0]["created_at"], "to": rows[-1]["created_at"]}


def _too_little(n_ref: int, n_cur: int) -> str | None:
    if n_ref < MIN_N or n_cur < MIN_N:
        return (
            f"too little data: reference n={n_ref}, current n={n_cur} ({MIN_N} on each side needed)"
        )
    return None


def _vectors(rows: list[dict]) -> np.ndarray:
    return np.stack([np.frombuffer(r["question_embedding"], dtype=np.float32) for r in rows])


def _wilson(k: int, n: int) -> list[float]:
    return [round(v, 4) for v in stats.wilson(k, n)]


def _two_proportions(name: str, k1: int, n1: int, k2: int, n2: int, tests: list) -> dict:
    """A change of a rate: difference with a 95% interval, two-sided z-test p."""
    test = {"name": name, "n_reference": n1, "n_current": n2}
    note = _too_little(n1, n2)
    if note:
        return {**test, "note": note}
    c = stats.two_proportions(k1, n1, k2, n2)
    test.update(
        reference=round(c.reference, 4),
        current=round(c.current, 4),
        effect=round(c.effect, 4),
        effect_ci=[round(c.low, 4), round(c.high, 4)],
        p=round(c.p, 6),
        _meaningful=abs(c.effect) >= MIN_SHARE_CHANGE,
    )
    tests.append(test)
    return test


# -- sections --------------------------------------------------------------------------------
def _question_drift(w: Window, tests: list, permutations: int) -> dict:
    n_ref, n_cur = len(w.reference), len(w.current)
    out: dict = {"name": "question embeddings", "n_reference": n_ref, "n_current": n_cur}
    note = _too_little(n_ref, n_cur)
    if note:
        return {**out, "note": note}
    ref, cur = w.reference_vectors, w.current_vectors
    result = stats.drift(ref, cur, permutations)
    out.update(
        statistic="MMD²",
        mmd2=round(result.statistic, 6),
        p=round(result.p, 6),
        effect="classifier AUC",
        auc=round(result.auc, 4),
        auc_ci=[round(result.auc_low, 4), round(result.auc_high, 4)],
        _meaningful=result.auc_low > MIN_AUC,
    )
    tests.append(out)
    out["topics"] = _topics(w, ref, cur, tests)
    return out


def _topics(w: Window, ref: np.ndarray, cur: np.ndarray, tests: list) -> list[dict]:
    """What drives a drift: clusters of all questions whose share changed."""
    from sklearn.cluster import KMeans

    pooled = np.vstack([ref, cur])
    k = max(2, min(6, len(pooled) // 15))
    model = KMeans(n_clusters=k, n_init=10, random_state=0).fit(pooled)
    labels_ref, labels_cur = model.labels_[: len(ref)], model.labels_[len(ref) :]
    questions = [r["question"] for r in w.reference + w.current]
    topics = []
    for c in range(k):
        members = np.flatnonzero(model.labels_ == c)
        centre = model.cluster_centers_[c]
        order = members[np.argsort(-(pooled[members] @ centre))]
        test = _two_proportions(
            f"topic {c + 1} share",
            int(np.sum(labels_ref == c)),
            len(ref),
            int(np.sum(labels_cur == c)),
            len(cur),
            tests,
        )
        test["examples"] = [questions[i] for i in order[:3]]
        topics.append(test)
    return sorted(topics, key=lambda t: -abs(t.get("effect", 0)))


def _outliers(w: Window, chunks: np.ndarray | None, tests: list) -> dict:
    """Current questions far from the documents *and* from past questions, each distance
    calibrated as the 99th percentile of the reference questions' own (held out); and the
    share of such questions, current against reference (scored the same way, held out), as
    a test: a window where many questions are about something else alerts even when the
    drift test, which weighs every question alike, does not."""
    out: dict = {
        "n_reference": len(w.reference),
        "n_current": len(w.current),
        # what the inline guard flagged when each question was asked (against all past ones)
        "flagged_when_asked": [
            r["id"]
            for r in w.current
            if ((r.get("flags") or {}).get("outlier") or {}).get("flagged")
        ],
    }
    share = {"name": OUTLIER_SHARE, "n_reference": len(w.reference), "n_current": len(w.current)}
    note = _too_little(len(w.reference), len(w.current))
    if note or chunks is None:
        note = note or "no documents"
        return {**out, "note": note, "questions": [], "share": {**share, "note": note}}
    ref, cur = w.reference_vectors, w.current_vectors
    corpus_ref, past_ref = stats.knn_scores(chunks, ref), stats.knn_held_out(ref)
    corpus_threshold = float(np.quantile(corpus_ref, 0.99))
    past_threshold = float(np.quantile(past_ref, 0.99))
    corpus_cur, past_cur = stats.knn_scores(chunks, cur), stats.knn_scores(ref, cur)
    found = []
    for row, a, b in zip(w.current, corpus_cur, past_cur, strict=True):
        if a > corpus_threshold and b > past_threshold:
            found.append(
                {
                    "id": row["id"],
                    "question": row["question"],
                    "corpus_score": round(float(a), 4),
                    "past_score": round(float(b), 4),
                }
            )
    in_reference = int(np.sum((corpus_ref > corpus_threshold) & (past_ref > past_threshold)))
    share = _two_proportions(OUTLIER_SHARE, in_reference, len(ref), len(found), len(cur), tests)
    share["rate_ci"] = _wilson(len(found), len(cur))
    out.update(
        corpus_threshold=round(corpus_threshold, 4),
        past_threshold=round(past_threshold, 4),
        questions=sorted(found, key=lambda f: -f["corpus_score"]),
        share=share,
    )
    return out


def _top_dense(row: dict) -> float | None:
    scores = [h.dense_score for h in row["hits"] if h.dense_score is not None]
    return max(scores) if scores else None


def _retrieval(w: Window, tests: list, paths, documents: list[str]) -> dict:
    top_current = [_top_dense(r) for r in w.current]
    ref = [s for s in map(_top_dense, w.reference) if s is not None]
    cur = [s for s in top_current if s is not None]
    test: dict = {
        "name": "top retrieval similarity",
        "n_reference": len(ref),
        "n_current": len(cur),
    }
    note = _too_little(len(ref), len(cur))
    if note:
        test["note"] = note
    else:
        auc, p = stats.rank_auc(np.array(ref), np.array(cur))
        n1, n2 = len(ref), len(cur)
        se = math.sqrt(auc * (1 - auc) / min(n1, n2) + 1e-12)
        test.update(
            reference_median=round(float(np.median(ref)), 4),
            current_median=round(float(np.median(cur)), 4),
            effect="AUC (current above reference)",
            auc=round(auc, 4),
            auc_ci=[round(max(0.0, auc - 1.96 * se), 4), round(min(1.0, auc + 1.96 * se), 4)],
            p=round(p, 6),
            _meaningful=abs(auc - 0.5) >= 0.1,
        )
        tests.append(test)
    seen_ref = {h.chunk_id for r in w.reference for h in r["hits"]}
    seen_cur = {h.chunk_id for r in w.current for h in r["hits"]}
    by_chunk = paths(seen_ref | seen_cur)
    docs_ref = {by_chunk[c] for c in seen_ref if c in by_chunk}
    docs_cur = {by_chunk[c] for c in seen_cur if c in by_chunk}
    low = float(np.quantile(ref, 0.01)) if len(ref) >= MIN_N else None
    return {
        "scores": test,
        "documents_never_retrieved": sorted(set(documents) - docs_ref - docs_cur),
        "documents_newly_retrieved": sorted(docs_cur - docs_ref),
        "documents_no_longer_retrieved": sorted(docs_ref - docs_cur),
        "outlier_retrievals": [
            {"id": r["id"], "question": r["question"], "top_similarity": round(s, 4)}
            for r, s in zip(w.current, top_current, strict=True)
            if low is not None and s is not None and s < low
        ],
    }


def _toxicity(w: Window, tests: list) -> dict:
    out = {}
    for what, key in (("questions", "question"), ("answers", "answer")):
        ref = [_toxic(r, what) for r in w.reference]
        cur = [_toxic(r, what) for r in w.current]
        test = _two_proportions(f"toxic {what}", sum(ref), len(ref), sum(cur), len(cur), tests)
        test["rate_ci"] = _wilson(sum(cur), len(cur))
        test["examples"] = [
            {"id": r["id"], "text": r[key]} for r, t in zip(w.current, cur, strict=True) if t
        ][:5]
        out[what] = test
    return out


def _toxic(row: dict, what: str) -> bool:
    """The verdict the guard recorded when the question was answered; computed the same way
    (docqa.flows.guards' word list) for asks recorded before guards existed."""
    flag = (row.get("flags") or {}).get("toxic_question" if what == "questions" else "toxic_answer")
    if isinstance(flag, dict) and "flagged" in flag:
        return bool(flag["flagged"])
    return bool(toxic_words(row["question" if what == "questions" else "answer"] or ""))


def _sentiment(w: Window) -> dict:
    out = {}
    for what, key in (("questions", "question"), ("answers", "answer")):
        scored = [(sentiment(r[key] or ""), r) for r in w.current]
        values = np.array([s for s, _ in scored]) if scored else np.zeros(0)
        n = len(values)
        mean = float(values.mean()) if n else 0.0
        half = 1.96 * float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
        out[what] = {
            "n": n,
            "mean": round(mean, 4),
            "mean_ci": [round(mean - half, 4), round(mean + half, 4)],
            "negative_rate": round(float(np.mean(values < -0.05)), 4) if n else 0.0,
            "most_negative": [
                {"id": r["id"], "text": r[key], "score": round(s, 4)}
                for s, r in sorted(scored, key=lambda x: x[0])[:3]
                if s < -0.05
            ],
        }
    return out


def _hallucination(w: Window, tests: list) -> dict:
    answered = ("grounded", "partially_grounded", "unanswerable")
    ref = [r for r in w.reference if r["status"] in answered]
    cur = [r for r in w.current if r["status"] in answered]
    counts = Counter(r["status"] for r in cur)
    partial = [r for r in cur if r["status"] == "partially_grounded"]
    worst = []
    for r in sorted(partial, key=lambda r: r.get("groundedness") or 0):
        for s in (r.get("grounding") or {}).get("sentences", []):
            if not s["supported"]:
                worst.append(
                    {
                        "id": r["id"],
                        "question": r["question"],
                        "sentence": s["text"],
                        "reason": s.get("reason"),
                        "nearest": s.get("nearest"),
                    }
                )
                break
    not_grounded = lambda rows: sum(r["status"] == "partially_grounded" for r in rows)  # noqa: E731
    return {
        "n": len(cur),
        "rates": {
            s: {
                "rate": round(counts[s] / len(cur), 4) if cur else 0.0,
                "ci": _wilson(counts[s], len(cur)),
            }
            for s in answered
        },
        "partially_grounded_change": _two_proportions(
            "partially grounded answers",
            not_grounded(ref),
            len(ref),
            not_grounded(cur),
            len(cur),
            tests,
        ),
        "worst": worst[:5],
    }


def _feedback(w: Window, tests: list) -> dict:
    """What people said of the answers (`docqa feedback`; an answer's latest verdict): the
    share of the current window's rated answers rated good, its change against the
    reference's, and the answers rated bad, newest first, to trace."""
    rated_ref = [r for r in w.reference if r.get("feedback")]
    rated_cur = [r for r in w.current if r.get("feedback")]
    good_ref = sum(r["feedback"] == "good" for r in rated_ref)
    good, n = sum(r["feedback"] == "good" for r in rated_cur), len(rated_cur)
    return {
        "n": len(w.current),
        "rated": n,
        "good": good,
        "bad": n - good,
        "good_rate": round(good / n, 4) if n else None,
        "good_ci": _wilson(good, n),
        "good_change": _two_proportions(GOOD_SHARE, good_ref, len(rated_ref), good, n, tests),
        "worst": [
            {
                "id": r["id"],
                "question": r["question"],
                "answer": r["answer"],
                "status": r["status"],
                "note": r.get("feedback_note"),
            }
            for r in reversed(rated_cur)
            if r["feedback"] == "bad"
        ][:10],
    }


def _conversations(w: Window) -> dict:
    sessions: dict[str, list[dict]] = {}
    for r in w.current:
        if r.get("session"):
            sessions.setdefault(r["session"], []).append(r)
    turns = np.array([len(v) for v in sessions.values()]) if sessions else np.zeros(0)
    tokens = (
        np.array(
            [
                sum((r["prompt_tokens"] or 0) + (r["completion_tokens"] or 0) for r in v)
                for v in sessions.values()
            ]
        )
        if sessions
        else np.zeros(0)
    )
    reasks = 0
    if w.current:  # a re-ask: the same user asked a question this close before, in the window
        v = w.current_vectors
        users = np.array([str(r["user"]) for r in w.current])
        close = (v @ v.T >= 0.9) & (users[:, None] == users[None, :])
        reasks = int(np.tril(close, -1).any(axis=1).sum())
    return {
        "sessions": len(sessions),
        "turns": _summary(turns),
        "tokens": _summary(tokens),
        "reask_rate": round(reasks / len(w.current), 4) if w.current else 0.0,
        "reask_ci": _wilson(reasks, len(w.current)),
    }


def _summary(values: np.ndarray) -> dict:
    if len(values) == 0:
        return {"n": 0}
    return {
        "n": int(len(values)),
        "mean": round(float(values.mean()), 2),
        "p50": float(np.percentile(values, 50)),
        "max": float(values.max()),
    }


def _operations(w: Window) -> dict:
    rows = w.current
    latency = {}
    for stage in STAGES:
        values = np.array([r["timings"][stage] for r in rows if stage in r["timings"]])
        if len(values):
            latency[stage] = {
                f"p{q}": round(float(np.percentile(values, q)), 4) for q in (50, 95, 99)
            }
    prompt = sum(r["prompt_tokens"] or 0 for r in rows)
    cached = sum(r["cached_tokens"] or 0 for r in rows)
    # answers from a model server that does not report its cache count for neither side
    known = sum(r["prompt_tokens"] or 0 for r in rows if r["cached_tokens"] is not None)
    # an ask whose process died (status "interrupted") failed as surely as one that errored
    interrupted = sum(r["status"] == "interrupted" for r in rows)
    errors = sum(r["status"] == "error" for r in rows) + interrupted
    attempts = [r["attempts"] for r in rows if r.get("attempts")]
    return {
        "n": len(rows),
        "latency": latency,
        "tokens": {
            "prompt": prompt,
            "cached": cached,
            "completion": sum(r["completion_tokens"] or 0 for r in rows),
        },
        "cache_hit_rate": round(cached / known, 4) if known else 0.0,
        "error_rate": round(errors / len(rows), 4) if rows else 0.0,
        "error_ci": _wilson(errors, len(rows)),
        "interrupted": interrupted,
        "attempts_mean": round(float(np.mean(attempts)), 3) if attempts else 0.0,
        "total_seconds_series": [round(r["timings"].get("total", 0.0), 3) for r in rows],
    }


def monitor_report(
    store,
    *,
    viewer,
    everyone: bool = False,
    window: int | None = None,
    since: str | None = None,
    reference_since: str | None = None,
    permutations: int = 500,
    plot_data: bool = False,
) -> dict:
    """The report over the viewer's asks (everyone's with `everyone`); `plot_data` adds the
    points the HTML report draws (`data`)."""
    rows = store.journal.monitoring_rows(user=viewer.name, everyone=everyone)
    w = split(rows, window=window, since=since, reference_since=reference_since)
    report = build(
        w,
        chunks=store.corpus.chunk_vectors(),
        paths=store.corpus.chunk_paths,
        permutations=permutations,
        documents=[d.path for d in store.corpus.documents()],
    )
    report["scope"] = "all users" if everyone else (viewer.name or "anonymous")
    if plot_data:
        report["data"] = _plot_data(w)
    return report


def _plot_data(w: Window) -> dict:
    """A 2-D map of the questions (principal components of both windows together) and the
    top retrieval similarity of each ask."""
    data: dict = {"map": {"reference": [], "current": []}, "top_similarity": {}}
    if len(w.reference) + len(w.current) >= 3:
        parts = [w.reference_vectors] if w.reference else []
        parts += [w.current_vectors] if w.current else []
        vectors = np.vstack(parts).astype(np.float64)
        centred = vectors - vectors.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        xy = np.round(centred @ vt[:2].T, 4).tolist()
        data["map"] = {"reference": xy[: len(w.reference)], "current": xy[len(w.reference) :]}
    for name, rows in (("reference", w.reference), ("current", w.current)):
        data["top_similarity"][name] = [s for s in map(_top_dense, rows) if s is not None]
    return data
