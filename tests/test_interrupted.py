"""An ask whose process dies mid-answer (a crash, SIGKILL, power loss) is `interrupted`: in
`log list`, `trace` and the report's error rate; `docqa doctor` names it and `--repair` stores
that status. An ask still being answered, in this process or another, stays `running`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from docqa import owner
from docqa.config import load_settings
from docqa.store import Store
from tests.cli import invoke
from tests.fakes import FakeEmbedder

KILLED = "What does the honey bee dance mean?"

# What `ask` does when a question arrives, in a process of its own; then it kills itself
# (as a crash would) or waits until its stdin closes.
BEGIN = """
import os, signal, sys
from docqa.store import Store
store = Store.open(sys.argv[1])
iid = store.journal.begin(
    {"kind": "ask", "question": sys.argv[2], "question_embedding": bytes.fromhex(sys.argv[3])}
)
print(iid, flush=True)
if sys.argv[4] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.stdin.read()
"""

needs_proc = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="start times come from /proc"
)


def begin_in_a_process(question: str, then: str) -> tuple[subprocess.Popen, int]:
    vector = FakeEmbedder().embed([question])[0].tobytes().hex()
    proc = subprocess.Popen(
        [sys.executable, "-c", BEGIN, str(load_settings().db_path), question, vector, then],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, int(proc.stdout.readline())


def _json(*args) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def statuses(*args) -> list[tuple[int, str]]:
    return [(r["id"], r["status"]) for r in _json("log", "list", *args)["interactions"]]


def doctor(*args) -> tuple[int, dict]:
    result = invoke("doctor", "--json", *args)
    report = json.loads(result.stdout)
    return result.exit_code, next(c for c in report["checks"] if c["name"] == "interactions")


def stored(iid: int) -> tuple[str, str | None]:
    store = Store.open(load_settings().db_path)
    try:
        return store.conn.execute(
            "SELECT status, error FROM interactions WHERE id = ?", (iid,)
        ).fetchone()
    finally:
        store.close()


# -- the owner of a row ---------------------------------------------------------------------
def test_an_owner_is_alive_while_its_process_runs_and_gone_once_it_exits():
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    found = owner.of_process(proc.pid)
    assert found is not None and owner.alive(found) is True
    proc.stdin.close()
    proc.wait(timeout=60)
    assert owner.alive(found) is False
    assert owner.of_process(proc.pid) is None


@needs_proc
def test_a_reused_pid_or_a_reboot_is_not_the_owner():
    me = owner.current()
    assert me.pid == os.getpid() and me.start is not None and me.boot is not None
    assert owner.alive(me) is True
    assert owner.alive(replace(me, start=me.start + 1)) is False  # same pid, another process
    assert owner.alive(replace(me, boot="another-boot")) is False  # the machine restarted
    assert owner.alive(replace(me, host="another-host")) is None  # cannot tell from here
    # without /proc's start time: a signal says whether the pid is alive
    assert owner.alive(owner.Owner(os.getpid(), me.host)) is True


def test_an_owner_that_cannot_be_checked_counts_as_gone_after_an_hour():
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    old = (now - timedelta(minutes=61)).isoformat()
    recent = (now - timedelta(minutes=59)).isoformat()
    host = owner.current().host
    # written by a docqa from before owners were recorded
    assert owner.gone(None, None, None, None, old, now) is True
    assert owner.gone(None, None, None, None, recent, now) is False
    # written by a process on another host sharing the store
    assert owner.gone(os.getpid(), "another-host", None, None, old, now) is True
    assert owner.gone(os.getpid(), "another-host", None, None, recent, now) is False
    # on this host the process itself decides, whatever the age
    assert owner.gone(os.getpid(), host, None, None, old, now) is False


# -- what readers and doctor make of it ------------------------------------------------------
def test_an_ask_killed_mid_answer_is_interrupted_everywhere_until_doctor_repairs_it(ingested):
    answered = _json("ask", "What is the Eiffel Tower?")
    assert answered["status"] != "error"
    proc, killed = begin_in_a_process(KILLED, "kill")
    assert proc.wait(timeout=60) == -signal.SIGKILL
    pid = proc.pid

    assert statuses() == [(killed, "interrupted"), (answered["id"], answered["status"])]
    assert statuses("--status", "interrupted") == [(killed, "interrupted")]
    assert statuses("--status", "running") == []
    assert "interrupted" in invoke("log", "list").stdout
    row = _json("trace", killed)["interaction"]
    assert (row["status"], row["owner_pid"], row["error"]) == ("interrupted", pid, None)
    human = invoke("trace", killed).stdout
    assert f"interrupted: the process answering it (pid {pid}) is gone" in " ".join(human.split())
    op = _json("monitor", "report")["operations"]
    assert (op["n"], op["error_rate"], op["interrupted"]) == (2, 0.5, 1)
    assert stored(killed) == ("running", None)  # readers compute it; nothing is written

    when = row["created_at"][:19].replace("T", " ")
    code, check = doctor()
    assert code == 1
    assert check["problems"] == [
        "1 interactions were left running by a process that died "
        "(`docqa doctor --repair` marks them interrupted)",
        f'interaction {killed}, asked {when} UTC by pid {pid}: "{KILLED}"',
    ]
    code, check = doctor("--repair")
    assert code == 0 and check["problems"] == []
    assert check["repaired"] == [f"marked 1 interactions interrupted: {killed}"]
    error = f"interrupted: the process answering it (pid {pid}) died before it finished"
    assert stored(killed) == ("interrupted", error)
    code, check = doctor()
    assert code == 0 and check == {
        "name": "interactions",
        "ok": True,
        "problems": [],
        "repaired": [],
    }

    # every reader now shows the stored status
    assert statuses("--status", "interrupted") == [(killed, "interrupted")]
    assert _json("trace", killed)["interaction"]["error"] == error
    op = _json("monitor", "report")["operations"]
    assert (op["n"], op["error_rate"], op["interrupted"]) == (2, 0.5, 1)


def test_a_live_ask_in_another_process_stays_running_until_that_process_is_killed(ingested):
    answered = _json("ask", "What is the Eiffel Tower?")
    proc, live = begin_in_a_process(KILLED, "wait")
    try:
        assert statuses() == [(live, "running"), (answered["id"], answered["status"])]
        assert statuses("--status", "running") == [(live, "running")]
        assert statuses("--status", "interrupted") == []
        assert _json("trace", live)["interaction"]["status"] == "running"
        op = _json("monitor", "report")["operations"]  # an ask being answered is left out
        assert (op["n"], op["error_rate"], op["interrupted"]) == (1, 0.0, 0)
        assert doctor() == (0, {"name": "interactions", "ok": True, "problems": [], "repaired": []})
        code, check = doctor("--repair")
        assert code == 0 and check["repaired"] == [] and stored(live) == ("running", None)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert statuses("--status", "interrupted") == [(live, "interrupted")]
    assert doctor()[0] == 1


@needs_proc
def test_a_row_of_this_process_stays_running_and_one_of_a_reused_pid_is_interrupted(ingested):
    me = owner.current()
    store = Store.open(load_settings().db_path)
    mine = store.journal.begin({"kind": "ask", "question": "Who built the tower?"})
    reused = store.journal.begin(
        {
            "kind": "ask",
            "question": "Who named the tower?",
            **replace(me, start=me.start - 1).columns(),  # this pid, but an earlier process
        }
    )
    store.close()
    assert statuses() == [(reused, "interrupted"), (mine, "running")]
    code, check = doctor()
    assert code == 1 and check["problems"][1].startswith(f"interaction {reused}, ")
    assert len(check["problems"]) == 2
    code, check = doctor("--repair")
    assert check["repaired"] == [f"marked 1 interactions interrupted: {reused}"]
    assert stored(mine) == ("running", None)
    assert doctor() == (0, {"name": "interactions", "ok": True, "problems": [], "repaired": []})


def test_a_running_row_written_before_owners_were_recorded_is_interrupted_after_an_hour(
    ingested,
):
    store = Store.open(load_settings().db_path)
    unowned = dict.fromkeys(("owner_pid", "owner_host", "owner_boot", "owner_start"))
    hours_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="milliseconds")
    old = store.journal.begin(
        {"kind": "ask", "question": "An old question?", "created_at": hours_ago, **unowned}
    )
    new = store.journal.begin({"kind": "ask", "question": "A new question?", **unowned})
    store.close()
    assert statuses() == [(new, "running"), (old, "interrupted")]
    code, check = doctor()
    assert check["problems"][1] == (
        f"interaction {old}, asked {hours_ago[:19].replace('T', ' ')} UTC by a docqa from "
        'before owners were recorded: "An old question?"'
    )
    doctor("--repair")
    assert stored(old) == (
        "interrupted",
        "interrupted: left running over an hour ago by a docqa that recorded no owner",
    )
    assert stored(new) == ("running", None)
