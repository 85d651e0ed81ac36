"""The feature store and document access control, with fake models and the real hnswlib
index: profiles, typed features, groups, and a randomized search for leaks across search,
ask, chat, the log, traces and the monitoring report."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from docqa.config import load_settings
from docqa.store import Store
from tests.cli import invoke

GROUPS = ["legal", "hr", "finance", "research"]
PUBLIC_DOCS = 6
DOCS_PER_GROUP = 10  # 40 restricted chunks: more than the 4k candidates a search fetches


def _json(*args, input: str | None = None) -> dict:
    result = invoke(*args, "--json", input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_users_set_show_list_rm(fakes):
    created = _json(
        "users",
        "set",
        "ada",
        "role=engineer",
        "level:=3",
        'langs:=["fr", "en"]',
        "groups=legal, hr",
    )
    assert created == {
        "name": "ada",
        "groups": ["hr", "legal"],
        "features": {"role": "engineer", "level": 3, "langs": ["fr", "en"]},
    }
    changed = _json("users", "set", "ada", "level=", "language=French")
    assert changed["features"] == {"role": "engineer", "langs": ["fr", "en"], "language": "French"}
    assert changed["groups"] == ["hr", "legal"]  # kept
    _json("users", "set", "bob", "role=intern")
    assert [u["name"] for u in _json("users", "list")["users"]] == ["ada", "bob"]
    assert _json("users", "show", "bob")["groups"] == []
    human = invoke("users", "show", "ada")
    assert "groups: hr, legal" in human.stdout and "language: French" in human.stdout
    assert _json("users", "rm", "bob") == {"removed": "bob"}
    gone = invoke("users", "show", "bob")
    assert gone.exit_code == 2 and "unknown user 'bob'" in gone.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ada", "Role=x"), "invalid feature name 'Role'"),
        (("ada", "name=x"), "`name` is reserved"),
        (("ada", "level:=true"), "a string, a number or a list of strings"),
        (("ada", 'level:={"a": 1}'), "a string, a number or a list of strings"),
        (("ada", "tags:=[1, 2]"), "a list of at most 100 strings"),
        (("ada", "level:=NaN"), "must be finite"),
        (("ada", "level:=[oops"), "invalid JSON"),
        (("ada", "groups=a b"), "invalid group 'a b'"),
        (("ada", "novalue"), "expected KEY=VALUE or KEY:=JSON"),
        (("bad name", "role=x"), "invalid user name 'bad name'"),
    ],
)
def test_invalid_features_are_usage_errors(fakes, args, message):
    result = invoke("users", "set", *args)
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("search", "tower"),
        ("ask", "How tall is the tower?"),
        ("run", "qa"),
    ],
)
def test_an_unknown_user_is_a_clear_error(ingested, args):
    result = invoke(*args, "--user", "nobody")
    assert result.exit_code == 2
    assert "unknown user 'nobody': create it with `docqa users set nobody" in result.stderr
    chat = invoke("chat", "--user", "nobody", input="hello?\n")
    assert chat.exit_code == 2 and "unknown user 'nobody'" in chat.stderr


def test_features_reach_the_prompt_and_the_record(ingested, fakes, monkeypatch):
    _, llm = fakes
    _json("users", "set", "zoe", "language=French", "expertise=beginner", "groups=hr")
    monkeypatch.setenv("DOCQA_USER", "zoe")  # the default user
    data = _json("ask", "How many metres tall is the Eiffel Tower?")
    prompt = llm.prompts[0]
    assert "Answer in French." in prompt
    assert "The reader's expertise: beginner; answer at that level." in prompt
    # the static prefix stays the same for every user: the profile comes after it
    assert "French" not in llm.cache_prefixes[0][0]
    store = Store.open(load_settings().db_path)
    assert store.journal.interaction(data["id"])["user"] == "zoe"
    features = store.journal.steps(data["id"])[0].to_json()
    assert features["stage"] == "features"
    assert features["data"] == {
        "user": "zoe",
        "features": {"language": "French", "expertise": "beginner"},
        "groups": ["hr"],
    }


def test_group_tags_are_set_kept_and_changed(fakes, docs):
    _json("ingest", docs / "eiffel_tower.txt", "--group", "hr", "--group", "legal")
    listing = {d["path"]: d for d in _json("docs", "list")["documents"]}
    [doc] = listing.values()
    assert doc["groups"] == ["hr", "legal"]
    _json("ingest", docs / "eiffel_tower.txt")  # no --group: kept
    assert _json("docs", "list")["documents"][0]["groups"] == ["hr", "legal"]
    again = _json("ingest", docs / "eiffel_tower.txt", "--group", "finance")
    assert again["unchanged"] == 1  # not embedded again, only re-tagged
    assert _json("docs", "list")["documents"][0]["groups"] == ["finance"]
    bad = invoke("ingest", docs, "--group", "no spaces")
    assert bad.exit_code == 2 and "invalid group 'no spaces'" in bad.stderr


def test_a_session_belongs_to_its_user(ingested, fakes):
    _json("users", "set", "ann", "role=x")
    _json("users", "set", "ben", "role=y")
    _json("ask", "Who built the Eiffel Tower?", "--user", "ann", "--session", "s1")
    other = invoke("ask", "And when?", "--user", "ben", "--session", "s1")
    assert other.exit_code == 2 and "session 's1' belongs to another user" in other.stderr
    anonymous = invoke("ask", "And when?", "--session", "s1")
    assert anonymous.exit_code == 2
    assert _json("ask", "And when?", "--user", "ann", "--session", "s1")["turn"] == 2


# -- the randomized leak test ----------------------------------------------------------------
def _secret(group: str, i: int) -> str:
    return f"zq{group}{i}secret"


@pytest.fixture
def restricted_corpus(fakes, tmp_path):
    """Public documents, and documents of four groups, each holding a secret word that a
    question can aim at ("What is the passphrase of project legal1?"). The restricted ones
    are all closer to such questions than any public one, so filtering a top-k after the
    search would leave a user with too few results, or none."""
    public = tmp_path / "public"
    public.mkdir()
    for i in range(PUBLIC_DOCS):
        (public / f"p{i}.txt").write_text(
            f"The cafeteria menu number {i} lists soup, bread and fruit for lunch.\n"
        )
    _json("ingest", public)
    for g in GROUPS:
        folder = tmp_path / g
        folder.mkdir()
        for i in range(DOCS_PER_GROUP):
            (folder / f"{g}{i}.txt").write_text(
                f"Project {g}{i} is confidential. The passphrase of project {g}{i} is "
                f"{_secret(g, i)}. Every project has a passphrase and a budget.\n"
            )
        _json("ingest", folder, "--group", g)
    return tmp_path


def _forbidden(groups: set[str]) -> set[str]:
    return {_secret(g, i) for g in GROUPS if g not in groups for i in range(DOCS_PER_GROUP)}


def test_no_user_ever_sees_another_groups_documents(restricted_corpus, fakes):
    _, llm = fakes
    rng = random.Random(20261124)
    users = {"anonymous": set()}
    for n in range(12):
        groups = set(rng.sample(GROUPS, rng.randint(0, len(GROUPS))))
        name = f"user{n}"
        users[name] = groups
        _json("users", "set", name, f"groups={','.join(sorted(groups))}", "role=tester")
    checked = 0
    for name, groups in users.items():
        who = [] if name == "anonymous" else ["--user", name]
        forbidden = _forbidden(groups)
        permitted_chunks = PUBLIC_DOCS + DOCS_PER_GROUP * len(groups)
        # questions aimed at restricted content: the user's own and other groups'
        targets = [f"{g}{rng.randrange(DOCS_PER_GROUP)}" for g in rng.sample(GROUPS, 3)]
        questions = [f"What is the passphrase of project {t}?" for t in targets]
        for k in (3, 8):
            for q in questions:
                found = _json("search", q, "-k", str(k), *who)
                text = json.dumps(found)
                assert not any(s in text for s in forbidden), (name, q)
                assert len(found["hits"]) == min(k, permitted_chunks)
                for hit in found["hits"]:
                    folder = hit["path"].split("/")[-2]
                    assert folder == "public" or folder in groups
                checked += 1
        llm.prompts.clear()
        answers = invoke("ask", "-", *who, input="\n".join(questions))
        assert answers.exit_code == 0, answers.output
        assert len(answers.stdout.splitlines()) == len(questions)
        chat = invoke("chat", "--json", *who, input="\n".join([*questions, "/sources"]) + "\n")
        assert chat.exit_code == 0, chat.output
        seen = answers.stdout + chat.stdout + "".join(llm.prompts)
        # the user's log and the trace of each of their answers
        logged = _json("log", "list", *who)["interactions"]
        assert len(logged) == 2 * len(questions)  # `ask -` and `chat`: nobody else's
        for row in logged:
            seen += invoke("trace", row["id"], "--json", *who).stdout
        report = invoke("monitor", "report", "--json", *who)
        assert report.exit_code == 0, report.output
        assert json.loads(report.stdout)["window"]["current"]["n"] == len(logged)
        seen += report.stdout
        assert not any(s in seen for s in forbidden), name
        # the user's own secrets do come back: the filter does not hide everything
        for t in targets:
            group = t.rstrip("0123456789")
            if group in groups:
                assert _secret(group, int(t[len(group) :])) in seen
    assert checked == len(users) * 6


def test_filtered_search_falls_back_to_exact_when_the_index_comes_back_short(tmp_path):
    from docqa.flows.retrieve import _dense
    from docqa.records import Profile

    class ShortIndex:
        def query(self, vector, k, exclude=None):
            return [(1, 0.9)]  # a filtered graph search that found too few

    class Permitted:
        def permitted_embeddings(self, profile):
            vectors = np.eye(4, dtype=np.float32)
            return [1, 2, 3, 4], vectors

    class Store:
        corpus = Permitted()

    found = _dense(Store(), ShortIndex(), np.array([0, 0, 1, 0.5]), 3, {9}, Profile("u"))
    assert [cid for cid, _ in found] == [3, 4, 1]


def test_run_templates_get_the_user(fakes, tmp_path):
    _json("users", "set", "cy", "language=Welsh", "groups=hr")
    tpl = tmp_path / "t.j2"
    tpl.write_text(
        "{{ user.name }} reads {{ user.language }}, groups {{ user.groups | join(',') }}"
    )
    assert _json("run", tpl, "--user", "cy")["text"] == "cy reads Welsh, groups hr"
    anonymous = tmp_path / "a.j2"
    anonymous.write_text("{{ user.name }} {{ user.groups }}")
    assert _json("run", anonymous)["text"] == "None []"
    overridden = _json(
        "run", anonymous, "--user", "cy", "--var", 'user:={"name": "x", "groups": 1}'
    )
    assert overridden["text"] == "x 1"


# -- regressions from review -----------------------------------------------------------------
def test_chat_cannot_open_another_users_session(restricted_corpus, fakes):
    _json("users", "set", "ann", "groups=legal")
    _json("users", "set", "ben", "role=x")
    ann = _json(
        "ask", "What is the passphrase of project legal3?", "--user", "ann", "--session", "w"
    )
    assert _secret("legal", 3) in json.dumps(ann)
    for who in (["--user", "ben"], []):
        chat = invoke("chat", *who, "--session", "w", "--json", input="/history\n")
        assert chat.exit_code == 2 and "belongs to another user" in chat.stderr
        assert _secret("legal", 3) not in chat.stdout


def test_a_session_is_claimed_before_its_first_turn_ends(restricted_corpus, fakes):
    from docqa.records import Profile

    _json("users", "set", "ben", "role=x")
    store = Store.open(load_settings().db_path)
    # ann's first turn is still running in another process: the name is hers already
    store.people.claim_session("w", "ann")
    late = invoke(
        "ask", "What is the passphrase of project public1?", "--user", "ben", "--session", "w"
    )
    assert late.exit_code == 2 and "belongs to another user" in late.stderr
    assert store.journal.session_turns("w", 10, "ben") == []
    assert Profile("ann").name == store.people.session("w")["user"]


def test_history_drops_turns_the_user_may_no_longer_read(restricted_corpus, fakes):
    _, llm = fakes
    _json("users", "set", "ann", "groups=legal")
    _json("ask", "What is the passphrase of project legal3?", "--user", "ann", "--session", "w")
    _json("users", "set", "ann", "groups=")  # ann leaves legal
    _json("ask", "And of the cafeteria menu?", "--user", "ann", "--session", "w")
    assert _secret("legal", 3) not in llm.prompts[-1]
    history = invoke("chat", "--user", "ann", "--session", "w", "--json", input="/history\n")
    assert _secret("legal", 3) not in history.stdout


def test_the_null_pool_only_samples_readable_documents(restricted_corpus, fakes):
    from docqa.records import ANONYMOUS, Profile

    store = Store.open(load_settings().db_path)
    public = store.corpus.sample_chunks(100, ANONYMOUS)
    assert public and all("/public/" in path for path, _ in public)
    legal = {
        path.split("/")[-2]
        for path, _ in store.corpus.sample_chunks(100, Profile("x", {}, ("legal",)))
    }
    assert legal == {"public", "legal"}


def test_sources_before_any_answer_still_prints_a_json_line(ingested):
    result = invoke("chat", "--json", input="/sources\n")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"sources": []}


def test_a_non_string_user_in_the_config_is_a_usage_error(ingested, docqa_home):
    (docqa_home / "docqa.toml").write_text("user = 5\n")
    result = invoke("search", "tower")
    assert result.exit_code == 2 and "invalid user name 5" in result.stderr
