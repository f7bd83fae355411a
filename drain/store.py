"""The run store: every solve, every model exchange and every piece of feedback, in SQLite.

It lives in the user data directory (``platformdirs``), or under ``$DRAIN_HOME`` when set. WAL mode and
a busy timeout let several processes (CLI, batch workers, the API server) write at once; the schema
grows through numbered migrations recorded in ``PRAGMA user_version``.

Every SQLite failure becomes a :class:`~drain.errors.StoreError`: :class:`StoreBusyError` when another
program holds the lock longer than ``busy_timeout``, :class:`StoreDamagedError` when the file is corrupt
(``drain store check`` / ``drain store repair``). A *best-effort* store (what the planner logs to by
default, :func:`open_default_store`) never stops a solve: when it cannot record a run it says so once,
in one logged warning line, and records nothing more. Each run records the process (pid and host) that
runs it; a run left ``running`` by a process that no longer exists is marked ``interrupted`` when the
store is next opened.

>>> import tempfile, pathlib
>>> store = Store(pathlib.Path(tempfile.mkdtemp()) / "runs.sqlite")
>>> run = store.start_run("noisy furnace", source="doctest", backend={"backend": "fake", "model": "m"})
>>> store.add_feedback(run, rating="up", idea=None)
1
>>> [row["problem"] for row in store.list_runs()]
['noisy furnace']
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from drain.config import DrainConfig, load_config
from drain.errors import (
    AmbiguousRunError,
    FeedbackConflictError,
    InputError,
    StoreBusyError,
    StoreDamagedError,
    StoreError,
    UnknownRunError,
)

__all__ = [
    "MIGRATIONS",
    "AmbiguousRunError",
    "FeedbackConflictError",
    "Store",
    "StoreBusyError",
    "StoreDamagedError",
    "UnknownRunError",
    "default_home",
    "escape_like",
    "open_default_store",
    "repair_hint",
    "sqlite_error",
]

log = logging.getLogger("drain.store")
T = TypeVar("T")
# A run that recorded no process (written by an older DRAIN) counts as abandoned after this long.
UNOWNED_RUN_SECONDS = 3600.0

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
    # 2: the process that runs each run, so that a run a killed process left behind can be told apart
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    CREATE INDEX runs_status ON runs(status);
    """,
]



def repair_hint(path: Path) -> str:
    """How to check, repair or move aside the store at ``path``."""
    return (f"check it with `drain store check`, repair it with `drain store repair` (it keeps a copy of the "
            f"bad file), or move it aside: mv {path} {path}.bad")


def escape_like(text: str) -> str:
    """``text`` with the SQL ``LIKE`` wildcards escaped, for ``LIKE ? ESCAPE '!'``.

    >>> escape_like("ab_c%d!")
    'ab!_c!%d!!'
    """
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def sqlite_error(path: Path, err: sqlite3.Error, busy_timeout: float = 0.0) -> StoreError:
    """The DRAIN error for a SQLite failure on the store at ``path``."""
    code = (getattr(err, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(err)
    if code in (5, 6) or "database is locked" in text or "database is busy" in text:  # SQLITE_BUSY, _LOCKED
        waited = f" for over {busy_timeout:g} s" if busy_timeout else ""
        return StoreBusyError(f"the run store at {path} is busy: another program holds it locked{waited}")
    if code in (11, 26) or "malformed" in text or "not a database" in text:  # SQLITE_CORRUPT, SQLITE_NOTADB
        return StoreDamagedError(f"the run store at {path} is damaged ({text}); {repair_hint(path)}")
    return StoreError(f"the run store at {path} failed: {text}")


def default_home(config: DrainConfig | None = None) -> Path:
    """The DRAIN home of ``config`` (``$DRAIN_HOME``, or the platform's user data directory for DRAIN)."""
    return (config or load_config()).home


def open_default_store(config: DrainConfig | None = None, *, best_effort: bool = True) -> Store:
    """The store in the DRAIN home; best effort (see :class:`Store`) unless told otherwise."""
    return Store((config or load_config()).store_path, best_effort=best_effort)


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # no cheap check: never mark a run that may be alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True


class Store:
    """A thin, process-safe layer over one SQLite file.

    ``busy_timeout`` is how long a call waits for another writer's lock before :class:`StoreBusyError`.
    With ``best_effort``, the run log (:meth:`start_run`, :meth:`log_exchange`, :meth:`finish_run`) never
    raises: the first failure is logged as one warning line and the store records nothing more (then
    :meth:`start_run` returns None). Reads and votes always raise.
    """

    def __init__(self, path: Path | str, *, busy_timeout: float = 30.0, best_effort: bool = False) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.best_effort = best_effort
        self.failure: StoreError | None = None  # why a best-effort store stopped recording
        self.interrupted = 0  # runs marked interrupted when this store was opened
        self._warned = False
        try:
            self._open()
        except StoreError as err:
            if not best_effort:
                raise
            self.failure = err

    def with_busy_timeout(self, seconds: float) -> Store:
        """The same store (no reopening) waiting at most ``seconds`` for locks."""
        clone = copy.copy(self)
        clone.busy_timeout = seconds
        return clone

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"cannot create the run store at {self.path}: {err.strerror}") from None
        with self._connect() as db:
            self._migrate(db)
            self.interrupted = self._mark_interrupted(db)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as err:
            raise sqlite_error(self.path, err, self.busy_timeout) from None
        db.row_factory = sqlite3.Row
        try:
            db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        except sqlite3.Error as err:
            raise sqlite_error(self.path, err, self.busy_timeout) from None
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _migrate(self, db: sqlite3.Connection) -> None:
        if db.execute("PRAGMA user_version").fetchone()[0] >= len(MIGRATIONS):
            return  # nothing to do: no write lock taken
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise

    def _mark_interrupted(self, db: sqlite3.Connection) -> int:
        """Mark ``interrupted`` the runs left ``running`` by a process of this host that has ended."""
        host, now = socket.gethostname(), time.time()
        dead = []
        for row in db.execute("SELECT id, pid, host, created_at FROM runs WHERE status = 'running'").fetchall():
            if row["pid"] is None:
                if now - row["created_at"] > UNOWNED_RUN_SECONDS:
                    dead.append((row["id"], "the process that ran it is gone"))
            elif row["host"] == host and not _pid_alive(int(row["pid"])):
                dead.append((row["id"], f"the process that ran it (pid {row['pid']}) ended before it finished"))
        if not dead:
            return 0
        db.execute("BEGIN IMMEDIATE")
        try:
            for run_id, why in dead:
                db.execute("UPDATE runs SET status = 'interrupted', error = ?, finished_at = ? "
                           "WHERE id = ? AND status = 'running'", (why, now, run_id))
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        return len(dead)

    @property
    def version(self) -> int:
        with self._connect() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    # ------------------------------------------------------------------------------------------------ run log
    def _record(self, action: Callable[[], T], *, first: bool) -> T | None:
        """Run one write of the run log; a best-effort store turns its first failure into one warning."""
        if self.failure is None:
            try:
                return action()
            except StoreError as err:
                if not self.best_effort:
                    raise
                self.failure = err
        if not self._warned:
            self._warned = True
            what = "this run was not logged" if first else "this run was not completely logged"
            err = self.failure
            plain = isinstance(err, StoreDamagedError | StoreBusyError)  # their messages say what to do
            log.warning("drain: warning: %s: %s", what, err if plain else f"{err}; {repair_hint(self.path)}")
        return None

    def start_run(self, problem: str, *, source: str, backend: dict[str, Any] | None = None,
                  settings: dict[str, Any] | None = None, run_id: str | None = None) -> str | None:
        """Record that a solve began; returns its run id (None: a best-effort store that could not)."""
        run_id = run_id or uuid.uuid4().hex[:16]
        backend = backend or {}

        def insert() -> str:
            with self._write() as db:
                db.execute(
                    "INSERT INTO runs (id, created_at, source, problem, backend, model, adapter, settings_json, "
                    "pid, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, time.time(), source, problem, backend.get("backend"), backend.get("model"),
                     backend.get("adapter"), json.dumps(settings or {}), os.getpid(), socket.gethostname()),
                )
            return str(run_id)

        return self._record(insert, first=True)

    def log_exchange(self, run_id: str, exchange: Any, backend: dict[str, Any] | None = None) -> None:
        """Record one model request and reply (a :class:`~drain.planner.session.Exchange`)."""
        backend = backend or {}

        def insert() -> None:
            with self._write() as db:
                db.execute(
                    "INSERT INTO exchanges (run_id, step, attempt, messages_json, schema_json, reply, valid, error, "
                    "prompt_tokens, completion_tokens, seconds, backend, model, adapter, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, exchange.step, exchange.attempt, json.dumps(exchange.messages),
                     json.dumps(exchange.schema), exchange.reply, int(exchange.valid), exchange.error,
                     exchange.prompt_tokens, exchange.completion_tokens, exchange.seconds, backend.get("backend"),
                     backend.get("model"), backend.get("adapter"), exchange.started_at),
                )

        self._record(insert, first=False)

    def finish_run(self, run_id: str, tree: Any | None = None, *, error: str | None = None) -> None:
        """Record the result (a :class:`~drain.schema.SolutionTree`) or the error that ended the solve."""

        def update() -> None:
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

        self._record(update, first=False)

    # ------------------------------------------------------------------------------------------------ reads
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
        """One run, by id or unique id prefix (at least 4 characters; ``_`` and ``%`` match themselves)."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchall()
            if not rows and len(run_id) >= 4:
                rows = db.execute("SELECT * FROM runs WHERE id LIKE ? ESCAPE '!' LIMIT 2",
                                  (escape_like(run_id) + "%",)).fetchall()
        if not rows:
            raise UnknownRunError(f"no run {run_id!r} in {self.path}")
        if len(rows) > 1:
            raise AmbiguousRunError(f"run id {run_id!r} is ambiguous")
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

    def probe(self) -> None:
        """Raise the store's error if it cannot be written now (takes and drops the write lock)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")

    # ------------------------------------------------------------------------------------------------ feedback
    def add_feedback(self, run_id: str, *, rating: str, idea: int | None = None, note: str | None = None,
                     source: str = "cli", client_event_id: str | None = None) -> int:
        """Record a thumbs up or down on a run or one of its ideas; returns the feedback id.

        A repeated ``client_event_id`` (a phone syncing the same vote twice) is stored once; the same id
        with a different vote raises :class:`FeedbackConflictError`.
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
                row = db.execute("SELECT id, run_id, idea, rating FROM feedback WHERE client_event_id = ?",
                                 (client_event_id,)).fetchone()
                if row is not None:
                    if (row["run_id"], row["idea"], row["rating"]) != (run["id"], idea, rating):
                        target = f"idea {row['idea']} of run {row['run_id']}" if row["idea"] is not None \
                            else f"run {row['run_id']}"
                        raise FeedbackConflictError(
                            f"client_event_id {client_event_id!r} was already used for a {row['rating']!r} vote "
                            f"on {target}; this {rating!r} vote was not stored (send it with a new id)")
                    return int(row["id"])
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
