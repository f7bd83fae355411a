"""The run store: every solve, every model exchange and every piece of feedback, in SQLite.

It lives in the user data directory (``platformdirs``), or under ``$DRAIN_HOME`` when set. WAL mode and
a busy timeout let several processes (CLI, batch workers, the API server) write at once; the schema
grows through numbered migrations recorded in ``PRAGMA user_version``.

>>> import tempfile, pathlib
>>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "runs.sqlite")
>>> run = store.start_run("noisy furnace", source="doctest", backend={"backend": "fake", "model": "m"})
>>> store.add_feedback(run, rating="up", idea=None)
1
>>> [row["problem"] for row in store.list_runs()]
['noisy furnace']
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drain.errors import InputError, StoreError

__all__ = ["MIGRATIONS", "Store", "default_home", "open_default_store"]

MIGRATIONS: list[str] = [
    # 1: runs, exchanges, feedback
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        finished_at REAL,
        source TEXT NOT NULL,
        problem TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'running',
        error TEXT,
        backend TEXT, model TEXT, adapter TEXT,
        settings_json TEXT,
        tree_json TEXT,
        llm_calls INTEGER DEFAULT 0,
        prompt_tokens INTEGER DEFAULT 0,
        completion_tokens INTEGER DEFAULT 0,
        wall_seconds REAL DEFAULT 0
    );
    CREATE INDEX runs_created ON runs(created_at);
    CREATE TABLE exchanges (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        messages_json TEXT NOT NULL,
        schema_json TEXT,
        reply TEXT NOT NULL,
        valid INTEGER NOT NULL,
        error TEXT,
        prompt_tokens INTEGER, completion_tokens INTEGER, seconds REAL,
        backend TEXT, model TEXT, adapter TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX exchanges_run ON exchanges(run_id);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        idea INTEGER,
        rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
        note TEXT,
        source TEXT NOT NULL DEFAULT 'cli',
        client_event_id TEXT UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE INDEX feedback_run ON feedback(run_id);
    """,
]


def default_home() -> Path:
    """``$DRAIN_HOME``, or the platform's user data directory for DRAIN."""
    override = os.environ.get("DRAIN_HOME")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("drain", appauthor=False))


def open_default_store() -> Store:
    """The store in :func:`default_home`."""
    return Store(default_home() / "runs.sqlite")


class Store:
    """A thin, process-safe layer over one SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                self._migrate(db)
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot open the run store at {self.path}: {err}") from None
        except OSError as err:
            raise StoreError(f"cannot create the run store at {self.path}: {err.strerror}") from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    @property
    def version(self) -> int:
        with self._connect() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    # ------------------------------------------------------------------------------------------------ runs
    def start_run(self, problem: str, *, source: str, backend: dict[str, Any] | None = None,
                  settings: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        """Record that a solve began; returns its run id."""
        run_id = run_id or uuid.uuid4().hex[:16]
        backend = backend or {}
        with self._write() as db:
            db.execute(
                "INSERT INTO runs (id, created_at, source, problem, backend, model, adapter, settings_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, time.time(), source, problem, backend.get("backend"), backend.get("model"),
                 backend.get("adapter"), json.dumps(settings or {})),
            )
        return run_id

    def log_exchange(self, run_id: str, exchange: Any, backend: dict[str, Any] | None = None) -> None:
        """Record one model request and reply (a :class:`~drain.planner.session.Exchange`)."""
        backend = backend or {}
        with self._write() as db:
            db.execute(
                "INSERT INTO exchanges (run_id, step, attempt, messages_json, schema_json, reply, valid, error, "
                "prompt_tokens, completion_tokens, seconds, backend, model, adapter, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, exchange.step, exchange.attempt, json.dumps(exchange.messages), json.dumps(exchange.schema),
                 exchange.reply, int(exchange.valid), exchange.error, exchange.prompt_tokens,
                 exchange.completion_tokens, exchange.seconds, backend.get("backend"), backend.get("model"),
                 backend.get("adapter"), exchange.started_at),
            )

    def finish_run(self, run_id: str, tree: Any | None = None, *, error: str | None = None) -> None:
        """Record the result (a :class:`~drain.schema.SolutionTree`) or the error that ended the solve."""
        with self._write() as db:
            if tree is None:
                db.execute("UPDATE runs SET finished_at = ?, status = 'error', error = ? WHERE id = ?",
                           (time.time(), error, run_id))
                return
            stats = tree.stats
            status = "partial" if stats.partial_nodes else "ok"
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, tree_json = ?, llm_calls = ?, prompt_tokens = ?, "
                "completion_tokens = ?, wall_seconds = ? WHERE id = ?",
                (time.time(), status, tree.model_dump_json(), stats.llm_calls, stats.prompt_tokens,
                 stats.completion_tokens, stats.wall_seconds, run_id),
            )

    def list_runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The most recent runs, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT r.id, r.created_at, r.source, r.problem, r.status, r.backend, r.model, r.adapter, "
                "r.llm_calls, r.prompt_tokens, r.completion_tokens, r.wall_seconds, "
                "(SELECT COUNT(*) FROM feedback f WHERE f.run_id = r.id) AS feedback "
                "FROM runs r ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?", (limit,),
            ).fetchall()
        return [dict(row) for row in rows]

    def get_run(self, run_id: str) -> dict[str, Any]:
        """One run, by id or unique id prefix (at least 4 characters)."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchall()
            if not rows and len(run_id) >= 4:
                rows = db.execute("SELECT * FROM runs WHERE id LIKE ? LIMIT 2", (run_id + "%",)).fetchall()
        if len(rows) != 1:
            raise StoreError(f"no run {run_id!r} in {self.path}" if not rows else f"run id {run_id!r} is ambiguous")
        return dict(rows[0])

    def get_tree(self, run_id: str) -> Any:
        """The stored :class:`~drain.schema.SolutionTree` of a finished run."""
        from drain.schema import SolutionTree

        run = self.get_run(run_id)
        if not run["tree_json"]:
            raise StoreError(f"run {run['id']} has no result ({run['status']}: {run['error'] or 'unfinished'})")
        return SolutionTree.model_validate_json(run["tree_json"])

    def exchanges(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Logged model exchanges, oldest first (all runs when ``run_id`` is None)."""
        query = "SELECT * FROM exchanges" + (" WHERE run_id = ?" if run_id else "") + " ORDER BY id"
        with self._connect() as db:
            return [dict(r) for r in db.execute(query, (run_id,) if run_id else ()).fetchall()]

    def iter_exchanges(self, *, valid_only: bool = True, statuses: tuple[str, ...] = ("ok", "partial"),
                       sources: tuple[str, ...] = (), steps: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
        """Logged exchanges of finished runs, oldest first, each with its run's problem, source and status."""
        where = [f"r.status IN ({', '.join('?' * len(statuses))})"] if statuses else []
        params: list[Any] = list(statuses)
        if valid_only:
            where.append("e.valid = 1")
        for column, values in (("r.source", sources), ("e.step", steps)):
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params += list(values)
        query = ("SELECT e.*, r.problem AS run_problem, r.source AS run_source, r.status AS run_status "
                 "FROM exchanges e JOIN runs r ON r.id = e.run_id"
                 + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY e.id")
        with self._connect() as db:
            for row in db.execute(query, params):
                yield dict(row)

    # ------------------------------------------------------------------------------------------------ feedback
    def add_feedback(self, run_id: str, *, rating: str, idea: int | None = None, note: str | None = None,
                     source: str = "cli", client_event_id: str | None = None) -> int:
        """Record a thumbs up or down on a run or one of its ideas; returns the feedback id.

        A repeated ``client_event_id`` (a phone syncing the same vote twice) is stored once.
        """
        if rating not in ("up", "down"):
            raise InputError(f"rating must be 'up' or 'down', not {rating!r}")
        run = self.get_run(run_id)
        if idea is not None:
            if run["tree_json"] is None:
                raise InputError(f"run {run['id']} has no ideas to rate")
            count = len(self.get_tree(run["id"]).numbered_ideas())
            if not 1 <= idea <= count:
                raise InputError(f"run {run['id']} has ideas 1 to {count}; there is no idea {idea}")
        with self._write() as db:
            if client_event_id is not None:
                row = db.execute("SELECT id FROM feedback WHERE client_event_id = ?", (client_event_id,)).fetchone()
                if row is not None:
                    return int(row[0])
            cursor = db.execute(
                "INSERT INTO feedback (run_id, idea, rating, note, source, client_event_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run["id"], idea, rating, note, source, client_event_id, time.time()),
            )
            return int(cursor.lastrowid or 0)

    def feedback(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Feedback rows, oldest first."""
        query = "SELECT * FROM feedback" + (" WHERE run_id = ?" if run_id else "") + " ORDER BY id"
        with self._connect() as db:
            return [dict(r) for r in db.execute(query, (run_id,) if run_id else ()).fetchall()]
