"""The run store: several processes at once, migrations, DRAIN_HOME, and `drain runs/show/feedback`."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

import drain.store as store_module
from drain.backends.fake import FakeBackend
from drain.planner import Planner
from drain.store import MIGRATIONS, Store, default_home, open_default_store
from tests.helpers import invoke_drain


def _env(home: Path) -> dict[str, str]:
    return {"DRAIN_HOME": str(home), "DRAIN_NO_LOG": "", "DRAIN_FAKE_DELAY": ""}


def _exchange(step: str = "frame", reply: str = "{}") -> SimpleNamespace:
    return SimpleNamespace(step=step, messages=[{"role": "user", "content": "?"}], schema={}, reply=reply,
                           valid=True, error=None, attempt=1, prompt_tokens=3, completion_tokens=2, seconds=0.01,
                           started_at=0.0)


def _writer(path: str, worker: int, runs: int) -> None:
    store = Store(path)  # every process migrates and writes through its own connections
    for n in range(runs):
        run_id = store.start_run(f"problem {worker}-{n}", source=f"worker{worker}", backend={"backend": "fake"})
        for step in ("frame", "contradict", "resolve"):
            store.log_exchange(run_id, _exchange(step), {"backend": "fake", "model": "m"})
        store.finish_run(run_id, error="stopped on purpose")
        store.add_feedback(run_id, rating="up" if n % 2 else "down", client_event_id=f"{worker}-{n}")


def test_several_processes_write_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "runs.sqlite")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, w, 15)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=240)
        assert process.exitcode == 0
    store = Store(path)
    runs = store.list_runs(limit=1000)
    assert len(runs) == 60 and len({r["id"] for r in runs}) == 60
    assert all(r["status"] == "error" and r["feedback"] == 1 for r in runs)
    assert len(store.exchanges()) == 180 and len(store.feedback()) == 60
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_migrations_are_versioned_and_keep_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "runs.sqlite"
    store = Store(path)
    run_id = store.start_run("noisy furnace", source="test")
    assert store.version == len(MIGRATIONS)
    extra = "ALTER TABLE runs ADD COLUMN tags TEXT; CREATE INDEX runs_tags ON runs(tags)"
    monkeypatch.setattr(store_module, "MIGRATIONS", [*MIGRATIONS, extra])
    upgraded = Store(path)
    assert upgraded.version == len(MIGRATIONS) + 1
    assert upgraded.get_run(run_id)["tags"] is None and upgraded.get_run(run_id)["problem"] == "noisy furnace"
    assert Store(path).version == len(MIGRATIONS) + 1  # opening again applies nothing twice


def test_drain_home_overrides_the_location(home: Path) -> None:
    assert default_home() == home
    assert open_default_store().path == home / "runs.sqlite"


def test_library_solves_are_logged_with_run_id(home: Path) -> None:
    tree = Planner(FakeBackend()).solve("noisy furnace")
    store = open_default_store()
    run = store.get_run(tree.run_id or "")
    assert run["source"] == "library" and run["status"] in ("ok", "partial")
    assert store.get_tree(run["id"]) == tree
    assert len(store.exchanges(run["id"])) == tree.stats.llm_calls
    assert Planner(FakeBackend(), log=False).solve("noisy furnace").run_id is None
    assert len(store.list_runs()) == 1


def test_cli_solve_runs_show_feedback(home: Path) -> None:
    solved = invoke_drain("solve", "leaking basement on budget", "--backend", "fake", "--format", "json",
                          env=_env(home))
    assert solved.returncode == 0, solved.stderr
    tree = json.loads(solved.stdout)
    run_id = tree["run_id"]
    runs = json.loads(invoke_drain("runs", "--format", "json", env=_env(home)).stdout)
    assert [(r["id"], r["source"], r["problem"]) for r in runs] == [(run_id, "cli", "leaking basement on budget")]
    text = invoke_drain("runs", env=_env(home)).stdout.decode()
    assert run_id in text and "leaking basement on budget" in text
    shown = invoke_drain("show", run_id[:8], "--format", "json", env=_env(home))
    assert json.loads(shown.stdout) == tree
    markdown = invoke_drain("show", run_id, "--format", "markdown", env=_env(home)).stdout.decode()
    assert markdown.startswith("# DRAIN: leaking basement on budget")
    plain = invoke_drain("show", run_id, env=_env(home)).stdout.decode()
    assert "leaking basement on budget" in plain and "\x1b[" not in plain
    voted = invoke_drain("feedback", run_id, "--idea", "1", "--rating", "up", "--note", "cheap", env=_env(home))
    assert voted.returncode == 0 and b"idea 1" in voted.stdout
    assert invoke_drain("feedback", run_id, "--rating", "down", env=_env(home)).returncode == 0
    rows = open_default_store().feedback(run_id)
    assert [(r["idea"], r["rating"], r["note"]) for r in rows] == [(1, "up", "cheap"), (None, "down", None)]


def test_cli_errors_are_one_line(home: Path) -> None:
    solved = invoke_drain("solve", "noisy furnace", "--backend", "fake", "--format", "json", env=_env(home))
    run_id = json.loads(solved.stdout)["run_id"]
    bad_idea = invoke_drain("feedback", run_id, "--idea", "999", "--rating", "up", env=_env(home))
    assert bad_idea.returncode == 2 and bad_idea.stderr.decode().count("\n") == 1
    assert b"there is no idea 999" in bad_idea.stderr
    unknown = invoke_drain("show", "zzzzzzzz", env=_env(home))
    assert unknown.returncode == 1 and unknown.stderr.decode().startswith("drain: error: no run 'zzzzzzzz'")
    bad_rating = invoke_drain("feedback", run_id, "--rating", "meh", env=_env(home))
    assert bad_rating.returncode == 2 and b"Traceback" not in bad_rating.stderr


def test_no_log_opts_out(home: Path) -> None:
    done = invoke_drain("solve", "noisy furnace", "--backend", "fake", "--format", "json", "--no-log", env=_env(home))
    assert done.returncode == 0 and json.loads(done.stdout)["run_id"] is None
    assert json.loads(invoke_drain("runs", "--format", "json", env=_env(home)).stdout) == []
