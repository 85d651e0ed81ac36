"""`docqa monitor report` on planted data: drift found and explained, no false alarms on the
same distribution, outliers named, toxic and ungrounded examples caught, operations exact."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from docqa.config import load_settings
from docqa.journal import Retrieve, RetrievedHit, Step, Validate
from docqa.monitor.report import build, split
from docqa.store import Store
from tests.cli import invoke
from tests.fakes import FakeEmbedder

SUBJECTS = ["Eiffel Tower", "honey bee", "photosynthesis", "Mount Everest", "Linux kernel"]
ATTRIBUTES = ["history", "height", "size", "discovery", "origin", "structure", "name", "age"]
OFF_TOPIC = ["cryptocurrency wallet", "football transfer", "stock market crash", "car insurance"]
OFF_ATTRIBUTES = ["fee", "price", "password", "premium", "rules", "tax"]


# what people ask of a store that holds none of it (the sample documents are about towers,
# bees, rivers, history): cooking, sport and travel, in several phrasings
ELSEWHERE = [
    ["bake sourdough bread", "roast a whole chicken", "make fresh egg pasta", "grill salmon"],
    ["improve my tennis serve", "train for a marathon", "swim faster freestyle"],
    ["pack light for a week in Japan", "find cheap flights to Lisbon", "plan a road trip"],
]
ELSEWHERE_FORMS = ["How should I {}?", "What is the best way to {}?", "Any tips to {} soon?"]


def on_topic(rng: random.Random) -> str:
    return f"What is the {rng.choice(ATTRIBUTES)} of the {rng.choice(SUBJECTS)}?"


def off_topic(rng: random.Random) -> str:
    return f"How do I pay the {rng.choice(OFF_TOPIC)} {rng.choice(OFF_ATTRIBUTES)} quickly?"


def elsewhere(rng: random.Random) -> str:
    return rng.choice(ELSEWHERE_FORMS).format(rng.choice(rng.choice(ELSEWHERE)))


class Planter:
    """Writes interactions as `ask` records them, without running the flow."""

    def __init__(self, store: Store):
        self.store, self.embedder = store, FakeEmbedder()
        rows = store.conn.execute("SELECT id, embedding FROM chunks").fetchall()
        self.ids = [r[0] for r in rows]
        self.chunks = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

    def rate(self, iid: int, verdict: str, note: str | None = None) -> None:
        self.store.feedback.rate(iid, None, verdict, note)

    def ask(self, question: str, *, status="grounded", answer="It is so.", total=1.0, **extra):
        vec = self.embedder.embed([question])[0]
        sims = self.chunks @ vec
        top = np.argsort(-sims)[:5]
        iid = self.store.journal.begin(
            {
                "kind": "ask",
                "question": question,
                "user": extra.get("user"),
                "session": extra.get("session"),
                "turn": extra.get("turn"),
                "question_embedding": vec.tobytes(),
            }
        )
        hits = tuple(RetrievedHit(self.ids[i], dense_score=float(sims[i])) for i in top)
        self.store.journal.add_step(iid, Step(Retrieve(1, [], hits)))
        if extra.get("grounding"):
            self.store.journal.add_step(iid, Step(Validate(grounding=extra["grounding"])))
        self.store.journal.finish(
            iid,
            {
                "status": status,
                "answer": answer,
                "timings": {"embed": 0.01, "generate": total - 0.11, "total": total},
                "prompt_tokens": 100,
                "cached_tokens": extra.get("cached", 40),
                "completion_tokens": 10,
                "attempts": extra.get("attempts", 1),
                "groundedness": extra.get("groundedness", 1.0),
            },
        )
        return iid


@pytest.fixture
def planter(ingested) -> Planter:
    return Planter(Store.open(load_settings().db_path))


def _report(planter: Planter, window: int, permutations: int = 300) -> dict:
    rows = planter.store.journal.monitoring_rows(everyone=True)
    w = split(rows, window=window, since=None, reference_since=None)
    return build(
        w,
        chunks=planter.store.corpus.chunk_vectors(),
        paths=planter.store.corpus.chunk_paths,
        permutations=permutations,
    )


def test_off_topic_questions_are_drift_and_are_named(planter):
    rng = random.Random(7)
    for _ in range(60):
        planter.ask(on_topic(rng))
    off = [off_topic(rng) for _ in range(30)]
    for q in off:
        planter.ask(q)
    r = _report(planter, window=30)
    d = r["drift"]
    assert (d["n_reference"], d["n_current"]) == (60, 30)
    assert d["p"] < 0.01 and d["auc_ci"][0] > 0.6 and d["alert"] is True
    assert d["q"] >= d["p"] and "question embeddings" in r["alerts"]
    # what drives it: a topic made of the off-topic questions, whose share went up
    grown = max(d["topics"], key=lambda t: t.get("effect", 0))
    assert grown["effect"] > 0.3 and grown["alert"] is True
    assert all(q in off for q in grown["examples"])
    # and they are listed as outliers: far from the documents and from past questions
    named = [o["question"] for o in r["outliers"]["questions"]]
    assert named and all(q in off for q in named)


def test_the_same_distribution_is_not_flagged_in_95_percent_of_trials(ingested):
    store = Store.open(load_settings().db_path)
    alarms = outlier_alarms = 0
    trials = 20
    for trial in range(trials):
        store.conn.execute("DELETE FROM interactions")
        store.conn.commit()
        planter = Planter(store)
        rng = random.Random(1000 + trial)
        for _ in range(60):
            planter.ask(on_topic(rng))
        r = _report(planter, window=30, permutations=200)
        alarms += "question embeddings" in r["alerts"]
        outlier_alarms += "outlier questions" in r["alerts"]
        assert "p" in r["outliers"]["share"]  # the share was tested, not skipped
    assert alarms <= trials * 0.05
    assert outlier_alarms <= trials * 0.05


@pytest.mark.parametrize("share", [0.2, 0.4, 1.0])
def test_a_share_of_questions_about_something_else_alerts(planter, share):
    """Issue 19: 12 of the last 30 questions about cooking, sport and travel raised no alert
    (the drift test weighs every question alike, and its AUC interval reached below 0.6),
    though the outlier section named them. Their share, current against reference, is a test
    of its own: planted at 20%, 40% and 100% of a 30-question window, it alerts each time."""
    rng = random.Random(2)
    for _ in range(60):
        planter.ask(on_topic(rng))
    n_off = round(30 * share)
    off_places = set(rng.sample(range(30), n_off))
    off = []
    for i in range(30):
        question = elsewhere(rng) if i in off_places else on_topic(rng)
        planter.ask(question)
        if i in off_places:
            off.append(question)
    r = _report(planter, window=30)
    o = r["outliers"]
    assert sorted(q["question"] for q in o["questions"]) == sorted(off)
    s = o["share"]
    assert (s["name"], s["n_reference"], s["n_current"]) == ("outlier questions", 60, 30)
    assert (s["reference"], s["current"]) == (0.0, round(n_off / 30, 4))
    assert s["effect_ci"][0] > 0 and s["p"] < 0.001 and s["q"] < 0.05
    assert s["alert"] is True and "outlier questions" in r["alerts"]
    assert s["rate_ci"] == [round(v, 4) for v in _textbook_wilson(n_off, 30)]


def _textbook_wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@pytest.mark.parametrize(("good_now", "alerts"), [(12, True), (27, False)])
def test_the_share_of_answers_rated_good_and_its_change(planter, good_now, alerts):
    rng = random.Random(4)
    for i in range(40):
        planter.rate(planter.ask(on_topic(rng)), "good" if i % 10 else "bad")  # 36 of 40 good
    bad_now = []
    for i in range(30):
        iid = planter.ask(on_topic(rng))
        if i < good_now:
            planter.rate(iid, "good")
        else:
            planter.rate(iid, "bad", f"wrong {i}")
            bad_now.append(iid)
    planter.ask(on_topic(rng))  # one more, not rated: the window is 31 asks, 30 rated
    r = _report(planter, window=31)
    f = r["feedback"]
    assert (f["n"], f["rated"], f["good"], f["bad"]) == (31, 30, good_now, 30 - good_now)
    assert f["good_rate"] == round(good_now / 30, 4)
    assert f["good_ci"] == [round(v, 4) for v in _textbook_wilson(good_now, 30)]
    change = f["good_change"]
    assert (change["name"], change["n_reference"], change["n_current"]) == (
        "answers rated good",
        40,
        30,
    )
    assert (change["reference"], change["current"]) == (0.9, round(good_now / 30, 4))
    assert change["alert"] is alerts and ("answers rated good" in r["alerts"]) is alerts
    # the answers rated bad, newest first, with their ids and notes, to trace
    assert [b["id"] for b in f["worst"]] == list(reversed(bad_now))[:10]
    assert f["worst"][0]["note"] == "wrong 29" and f["worst"][0]["question"]


def test_too_little_data_is_said_not_guessed(planter):
    rng = random.Random(1)
    for _ in range(15):
        planter.ask(on_topic(rng))
    r = _report(planter, window=5)
    assert r["drift"]["note"] == (
        "too little data: reference n=10, current n=5 (20 on each side needed)"
    )
    assert "p" not in r["drift"] and r["alerts"] == []
    assert r["outliers"]["questions"] == []


def test_planted_toxic_and_ungrounded_answers_are_caught(planter):
    rng = random.Random(3)
    for _ in range(40):
        planter.ask(on_topic(rng))
    grounding = {
        "status": "partial",
        "score": 0.5,
        "sentences": [
            {"text": "It is 300 m.", "supported": True, "reason": "verbatim", "nearest": "300 m"},
            {
                "text": "Napoleon painted it green.",
                "supported": False,
                "reason": "not in the sources: Napoleon",
                "nearest": "The tower is painted brown.",
            },
        ],
    }
    planted = []
    for i in range(20):
        if i % 4 == 0:
            planted.append(planter.ask("Why is this stupid damn tower so ugly?"))
        elif i % 4 == 1:
            planted.append(
                planter.ask(
                    on_topic(rng),
                    status="partially_grounded",
                    answer="It is 300 m. Napoleon painted it green.",
                    grounding=grounding,
                    groundedness=0.5,
                )
            )
        else:
            planter.ask(on_topic(rng))
    r = _report(planter, window=20)
    tox = r["toxicity"]["questions"]
    assert (tox["reference"], tox["current"]) == (0.0, 0.25)
    assert {e["id"] for e in tox["examples"]} == set(planted[0::2])
    assert tox["rate_ci"][0] > 0 and tox["alert"] is True
    h = r["hallucination"]
    assert h["rates"]["partially_grounded"]["rate"] == 0.25
    worst = h["worst"][0]
    assert worst["sentence"] == "Napoleon painted it green." and worst["id"] in planted[1::2]
    assert worst["nearest"] == "The tower is painted brown."
    assert r["sentiment"]["questions"]["most_negative"][0]["id"] in planted[0::2]


def test_operations_and_conversations_are_exact(planter):
    for i in range(10):
        planter.ask(
            f"What is the height of the Eiffel Tower number {i}?",
            total=float(i + 1),
            session="s" if i < 4 else None,
            turn=i + 1 if i < 4 else None,
            attempts=2 if i % 2 else 1,
        )
    r = _report(planter, window=10)
    op = r["operations"]
    assert op["latency"]["total"]["p50"] == 5.5
    assert op["latency"]["total"]["p99"] == pytest.approx(9.91)
    assert op["cache_hit_rate"] == 0.4 and op["error_rate"] == 0.0 and op["interrupted"] == 0
    assert op["attempts_mean"] == 1.5
    c = r["conversations"]
    assert c["sessions"] == 1 and c["turns"] == {"n": 1, "mean": 4.0, "p50": 4.0, "max": 4.0}
    assert c["reask_rate"] > 0.5  # the same question over and over, by the same (anonymous) user


def test_monitor_report_command(planter):
    rng = random.Random(5)
    for _ in range(30):
        planter.ask(on_topic(rng), user=None)
    for _ in range(25):
        planter.ask(off_topic(rng))
    data = json.loads(invoke("monitor", "report", "--window", "25", "--json").stdout)
    assert data["scope"] == "anonymous" and data["window"]["current"]["n"] == 25
    assert "question embeddings" in data["alerts"] and "outlier questions" in data["alerts"]
    assert data["feedback"]["rated"] == 0 and data["feedback"]["good_rate"] is None
    human = invoke("monitor", "report", "--window", "25")
    assert human.exit_code == 0
    assert "Question drift" in human.stdout and "ALERT" in human.stdout
    assert "Operations" in human.stdout and "seconds per ask" in human.stdout
    assert "share: n 30 → 25" in human.stdout and "no answers rated yet" in human.stdout
    assert len(data["operations"]["total_seconds_series"]) == 25
    # the planted asks retrieved some documents; the others are listed as never retrieved
    retrieval = data["retrieval"]
    assert retrieval["documents_never_retrieved"]
    assert not set(retrieval["documents_never_retrieved"]) & set(
        retrieval["documents_newly_retrieved"]
    )
    # another user sees none of it
    invoke("users", "set", "zed", "role=x")
    other = json.loads(invoke("monitor", "report", "--user", "zed", "--json").stdout)
    assert other["window"]["current"]["n"] == 0
    both = invoke("monitor", "report", "--since", "1h", "--window", "5")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_html_report_is_self_contained_and_its_plots_render_in_chromium(planter, tmp_path):
    import shutil
    import subprocess

    rng = random.Random(11)
    for _ in range(40):
        planter.ask(on_topic(rng))
    for i in range(25):
        planter.ask(off_topic(rng), status="partially_grounded" if i % 3 else "grounded")
    page = tmp_path / "report.html"
    result = invoke("monitor", "report", "--window", "25", "--html", page)
    assert result.exit_code == 0, result.output
    html = page.read_text()
    for plot in ("map", "topics", "retrieval", "groundedness", "latency"):
        assert f'<figure class="plot" id="plot-{plot}"><svg' in html, plot
    assert "<script" not in html and "src=" not in html  # nothing to fetch, nothing to run
    assert "question embeddings" in html and "alert" in html
    assert "<td>outlier questions</td>" in html and "<h2>Feedback</h2>" in html
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert dom.count("<svg") >= 5 and 'id="plot-latency"' in dom
    subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1200,4000", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    from matplotlib.image import imread

    pixels = (imread(shot)[:, :, :3] * 255).round().astype(int)
    # the current window's colour (#d9480f) is drawn: the plots were rendered, not just sent
    drawn = np.all(np.abs(pixels - np.array([217, 72, 15])) <= 12, axis=2).sum()
    assert drawn > 500


def test_the_mmd_permutation_test_equals_its_definition():
    """All splits at once (indicator vectors and one matrix product) give the statistic and
    p-value of computing each permuted split's MMD² from its kernel blocks."""
    import numpy as np

    from bench.monitor import by_blocks
    from docqa.monitor import stats

    rng = np.random.default_rng(3)
    for shift in (0.0, 0.4):
        x, y = rng.standard_normal((30, 8)), rng.standard_normal((25, 8)) + shift
        stat, p = stats.mmd_permutation(x, y, 199)
        want_stat, want_p = by_blocks(x, y, 199)
        assert stat == pytest.approx(want_stat, abs=1e-12) and p == want_p


def test_toxicity_is_the_verdict_the_guard_recorded_else_the_same_word_list():
    from docqa.monitor.report import _toxic

    recorded = {
        "question": "fine words",
        "answer": "",
        "flags": {"toxic_question": {"flagged": True}},
    }
    assert _toxic(recorded, "questions") is True  # what the guard saw when it was asked
    older = {"question": "what a damn mess", "answer": "ok", "flags": {}}
    assert _toxic(older, "questions") is True and _toxic(older, "answers") is False
