"""The run store when things go wrong: a damaged file, a killed process, LIKE wildcards in run ids, a
vote id reused for another vote. Real SQLite files, the real ``drain`` command."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from drain.errors import InputError, StoreError
from drain.store import Store
from tests.helpers import ROOT, invoke_drain, run_drain

PAGE = 4096


def _env(home: Path) -> dict[str, str]:
    return {"DRAIN_HOME": str(home), "DRAIN_NO_LOG": "", "DRAIN_FAKE_DELAY": ""}


def _exchange(step: str) -> SimpleNamespace:
    return SimpleNamespace(step=step, messages=[{"role": "user", "content": "what is wrong? " * 30}], schema={},
                           reply='{"ok": true}' * 20, valid=True, error=None, attempt=1, prompt_tokens=3,
                           completion_tokens=2, seconds=0.01, started_at=0.0)


def _filled_store(path: Path, runs: int = 80) -> list[str]:
    """A store with ``runs`` runs, two exchanges and a vote each, checkpointed into the main file."""
    store = Store(path)
    ids = []
    for n in range(runs):
        run_id = store.start_run(f"problem {n}: " + "water in the basement " * 12, source="test")
        assert run_id is not None
        for step in ("frame", "contradict"):
            store.log_exchange(run_id, _exchange(step))
        store.finish_run(run_id, error="stopped on purpose")
        store.add_feedback(run_id, rating="up")
        ids.append(run_id)
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return ids


def _junk_pages_of(path: Path, name: str, share: float = 1.0, *, root: bool = False) -> list[int]:
    """Overwrite with random bytes ``share`` of the pages of the table or index ``name`` below its root page
    (the root too with ``root``: junk in the middle of a file seldom hits a root, which sits near the start)."""
    db = sqlite3.connect(path)
    pages = [row[0] for row in db.execute("SELECT pageno FROM dbstat WHERE name = ? AND (path != '/' OR ?) "
                                          "ORDER BY pageno", (name, root))]
    db.close()
    chosen = pages[:: max(1, round(1 / share))]
    data = bytearray(path.read_bytes())
    rng = random.Random(7)
    for page in chosen:
        data[(page - 1) * PAGE: page * PAGE] = bytes(rng.randrange(256) for _ in range(PAGE))
    path.write_bytes(bytes(data))
    return chosen


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """DRAIN_HOME with a runs.sqlite with junk in its middle: half the pages of the runs table (so reading
    runs fails) and the index of run ids (so recording a new run fails)."""
    home = tmp_path / "home"
    home.mkdir()
    _filled_store(home / "runs.sqlite")
    assert _junk_pages_of(home / "runs.sqlite", "runs", share=0.5)
    assert _junk_pages_of(home / "runs.sqlite", "sqlite_autoindex_runs_1", root=True)
    return home


# ------------------------------------------------------------------------------------------------ damaged file
def test_a_solve_still_prints_its_tree_with_one_warning_line(damaged: Path) -> None:
    # a subprocess: the warning is a log record, which reaches stderr through the process's own logging set-up
    done = run_drain("solve", "noisy furnace", "--backend", "fake", "--depth", "1", "--format", "json",
                     env=_env(damaged))
    assert done.returncode == 0, done.stderr
    tree = json.loads(done.stdout)
    assert tree["problem"] == "noisy furnace" and tree["contradictions"] and tree["run_id"] is None
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("drain: warning: this run was not logged: the run store at ")
    assert "is damaged" in lines[0] and "drain store check" in lines[0] and "drain store repair" in lines[0]
    assert "Traceback" not in done.stderr.decode()


@pytest.mark.parametrize("command", [["runs"], ["runs", "--format", "json"], ["show", "abcd"],
                                     ["feedback", "abcdef", "--rating", "up"]])
def test_read_commands_give_one_line_and_exit_1(damaged: Path, command: list[str]) -> None:
    done = invoke_drain(*command, env=_env(damaged))
    assert done.returncode == 1, (done.returncode, done.stderr)
    stderr = done.stderr.decode()
    assert stderr.count("\n") == 1 and stderr.startswith("drain: error: the run store at ")
    assert "damaged" in stderr and "drain store repair" in stderr and "internal error" not in stderr


def test_store_check_then_repair_recovers_what_sqlite_can_read(damaged: Path) -> None:
    path = damaged / "runs.sqlite"
    before = path.read_bytes()
    check = invoke_drain("store", "check", env=_env(damaged))
    assert check.returncode == 1 and b"damaged" in check.stderr and b"drain store repair" in check.stderr
    assert check.stderr.decode().count("\n") == 1
    assert path.read_bytes() == before  # a check changes nothing

    repaired = invoke_drain("store", "repair", env=_env(damaged))
    assert repaired.returncode == 0, repaired.stderr
    message = repaired.stdout.decode()
    assert message.startswith(f"repaired {path}: recovered ") and "kept as" in message
    [backup] = damaged.glob("runs.sqlite.bad-*")
    assert backup.read_bytes() == before  # the damaged file is kept, byte for byte

    assert invoke_drain("store", "check", env=_env(damaged)).returncode == 0
    runs = json.loads(invoke_drain("runs", "--format", "json", "-n", "1000", env=_env(damaged)).stdout)
    assert 0 < len(runs) < 80  # the runs on good pages came back, the ones on junk pages did not
    store = Store(path)
    kept = {r["id"] for r in runs}
    assert {f["run_id"] for f in store.feedback()} <= kept and {e["run_id"] for e in store.exchanges()} <= kept
    assert all(r["feedback"] == 1 for r in runs)
    solved = invoke_drain("solve", "noisy furnace", "--backend", "fake", "--depth", "1", "--format", "json",
                          env=_env(damaged))
    assert solved.returncode == 0 and solved.stderr == b""
    assert json.loads(solved.stdout)["run_id"] in {r["id"] for r in Store(path).list_runs(1000)}
    again = invoke_drain("store", "repair", env=_env(damaged))
    assert again.returncode == 0 and b"nothing to repair" in again.stdout


def test_repair_of_a_file_with_nothing_readable_starts_fresh(tmp_path: Path) -> None:
    from drain.store_repair import check_store, repair_store

    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this was never a database " * 500)
    report = repair_store(path)
    assert report.repaired and report.fresh and report.backup is not None
    assert report.backup.read_bytes().startswith(b"this was never")
    assert check_store(path).ok and Store(path).list_runs() == []


def test_repair_refuses_a_store_another_process_has_open(tmp_path: Path) -> None:
    from drain.store_repair import repair_store

    path = tmp_path / "runs.sqlite"
    _filled_store(path, runs=3)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"db = sqlite3.connect({str(path)!r}); db.execute('SELECT COUNT(*) FROM runs').fetchone()\n"
        "print('open', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"open\n"
        with pytest.raises(StoreError, match=r"has the run store at .* open"):
            repair_store(path, force=True)
    finally:
        holder.kill()
        holder.wait()
    assert repair_store(path, force=True).recovered == {"runs": 3, "exchanges": 6, "feedback": 3}


def test_a_strict_store_says_damaged_and_a_best_effort_one_warns_once(damaged: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    strict = Store(damaged / "runs.sqlite")
    for action in (strict.list_runs, lambda: strict.start_run("noisy furnace", source="test")):
        with pytest.raises(StoreError, match=r"is damaged .*drain store repair"):
            action()
    log = Store(damaged / "runs.sqlite", best_effort=True)
    with caplog.at_level("WARNING", logger="drain.store"):
        assert log.start_run("noisy furnace", source="test") is None
        log.log_exchange("x", _exchange("frame"))
        log.finish_run("x", error="whatever")
        assert log.start_run("another", source="test") is None
    assert [r.getMessage() for r in caplog.records if "not logged" in r.getMessage()] == [
        caplog.records[0].getMessage()]


# ------------------------------------------------------------------------------------------------ killed runs
def test_runs_left_running_by_a_killed_process_are_marked_interrupted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    solver = subprocess.Popen([sys.executable, "-m", "drain", "solve", "leaking basement on budget", "--backend",
                               "fake", "--quiet"], cwd=ROOT, env={**os.environ, **_env(home),
                                                                   "DRAIN_FAKE_DELAY": "5"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = home / "runs.sqlite"
    deadline = time.monotonic() + 60
    while not (path.exists() and Store(path).list_runs()):
        assert time.monotonic() < deadline and solver.poll() is None
        time.sleep(0.1)
    [running] = Store(path).list_runs()
    assert running["status"] == "running"
    assert Store(path).get_run(running["id"])["status"] == "running"  # its process is alive: left alone
    solver.send_signal(signal.SIGKILL)
    solver.wait()
    opened = Store(path)  # the next start
    assert opened.interrupted == 1
    run = opened.get_run(running["id"])
    assert run["status"] == "interrupted" and f"pid {solver.pid}" in run["error"] and run["finished_at"]


def test_only_dead_processes_of_this_host_count(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    store = Store(path)
    mine = store.start_run("alive", source="test")
    elsewhere = store.start_run("other host", source="test")
    old = store.start_run("from an older drain", source="test")
    db = sqlite3.connect(path)
    db.execute("UPDATE runs SET host = 'another-machine', pid = 1 WHERE id = ?", (elsewhere,))
    db.execute("UPDATE runs SET pid = NULL, host = NULL, created_at = created_at - 7200 WHERE id = ?", (old,))
    db.commit()
    db.close()
    reopened = Store(path)
    assert reopened.interrupted == 1
    statuses = {r["id"]: r["status"] for r in reopened.list_runs()}
    assert statuses == {mine: "running", elsewhere: "running", old: "interrupted"}
    assert reopened.get_run(mine)["host"] == socket.gethostname() and reopened.get_run(mine)["pid"] == os.getpid()


# ------------------------------------------------------------------------------------------------ small ones
def test_like_wildcards_in_a_run_id_match_themselves(tmp_path: Path) -> None:
    home = tmp_path / "home"
    solved = invoke_drain("solve", "noisy furnace", "--backend", "fake", "--depth", "1", "--format", "json",
                          env=_env(home))
    run_id = json.loads(solved.stdout)["run_id"]
    for pattern in ("____", "%%%%", "____%", run_id[:3] + "_"):
        shown = invoke_drain("show", pattern, env=_env(home))
        assert shown.returncode == 1 and shown.stderr.decode().startswith(f"drain: error: no run {pattern!r}")
    assert invoke_drain("show", run_id[:4], "--format", "json", env=_env(home)).returncode == 0


def test_a_reused_vote_id_with_another_rating_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "runs.sqlite")
    run_id = store.start_run("noisy furnace", source="test")
    assert run_id is not None
    first = store.add_feedback(run_id, rating="up", client_event_id="phone-0001")
    assert store.add_feedback(run_id, rating="up", client_event_id="phone-0001") == first  # a resend: stored once
    with pytest.raises(InputError, match=r"already used for a 'up' vote on run .*'down' vote was not"):
        store.add_feedback(run_id, rating="down", client_event_id="phone-0001")
    assert [(f["rating"], f["client_event_id"]) for f in store.feedback()] == [("up", "phone-0001")]
