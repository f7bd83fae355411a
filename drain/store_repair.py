"""Checking and repairing the run store's SQLite file (``drain store check``, ``drain store repair``).

Repair never destroys anything: it copies the damaged file aside first, builds a fresh store with the
current schema, copies in every row SQLite can still read (scanning each table by rowid and narrowing
down around the damaged pages), and only then puts the new file in place. Votes and model exchanges
whose run could not be read are left out, since nothing could use them.

>>> import tempfile, pathlib
>>> from drain.store import Store
>>> path = pathlib.Path(tempfile.mkdtemp()) / "runs.sqlite"
>>> _ = Store(path).start_run("noisy furnace", source="doctest")
>>> check = check_store(path)
>>> check.ok, check.counts["runs"]
(True, 1)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drain.errors import StoreError

__all__ = ["RepairReport", "StoreCheck", "check_store", "repair_store"]

TABLES = ("runs", "exchanges", "feedback")
SIDE_FILES = ("-wal", "-shm")
PROBE_BUDGET = 200_000  # queries spent narrowing down damaged pages, per table
SHM_DMS_BYTE = 128  # SQLite's "dead man switch" lock in the -shm file: every open WAL connection holds it shared


@dataclass
class StoreCheck:
    """What ``PRAGMA integrity_check`` and a count of each table found."""

    path: Path
    exists: bool
    ok: bool
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # the tables that could be counted
    version: int | None = None


@dataclass
class RepairReport:
    """What ``repair_store`` did."""

    path: Path
    backup: Path | None = None
    recovered: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)  # rowids on damaged pages (an upper bound)
    orphans: dict[str, int] = field(default_factory=dict)  # rows left out: their run could not be read
    repaired: bool = False  # False: the store was fine and nothing was touched

    @property
    def fresh(self) -> bool:
        """Nothing could be read back: the store starts empty."""
        return self.repaired and not any(self.recovered.values())


def _reader(path: Path) -> sqlite3.Connection:
    """A connection that only reads (nothing here writes through it)."""
    db = sqlite3.connect(path, timeout=2.0, isolation_level=None)
    db.execute("PRAGMA busy_timeout=2000")
    return db


def check_store(path: Path) -> StoreCheck:
    """Check the store at ``path`` without changing it."""
    path = Path(path)
    if not path.exists():
        return StoreCheck(path, exists=False, ok=True)
    check = StoreCheck(path, exists=True, ok=False)
    try:
        db = _reader(path)
    except sqlite3.Error as err:
        check.problems.append(str(err))
        return check
    try:
        try:
            check.version = int(db.execute("PRAGMA user_version").fetchone()[0])
            rows = [str(r[0]) for r in db.execute("PRAGMA integrity_check(50)").fetchall()]
        except sqlite3.Error as err:
            check.problems.append(str(err))
            return check
        check.problems = [] if rows == ["ok"] else rows
        for table in TABLES:
            with contextlib.suppress(sqlite3.Error):
                check.counts[table] = int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        check.ok = not check.problems
        return check
    finally:
        db.close()


def _in_use(path: Path) -> bool:
    """Whether another process has the store open right now (it holds SQLite's lock in the -shm file)."""
    shm = Path(f"{path}-shm")
    if os.name != "posix" or not shm.exists():
        return False
    import fcntl

    fd = os.open(shm, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DMS_BYTE, os.SEEK_SET)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, SHM_DMS_BYTE, os.SEEK_SET)
        return False
    finally:
        os.close(fd)


def _copy_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.bad-{stamp}")
    number = 1
    while backup.exists():
        number += 1
        backup = path.with_name(f"{path.name}.bad-{stamp}-{number}")
    shutil.copy2(path, backup)
    for suffix in SIDE_FILES:
        side = Path(f"{path}{suffix}")
        if side.exists():
            shutil.copy2(side, f"{backup}{suffix}")
    return backup


class _Reader:
    """Every row of a table that SQLite can still read, around damaged pages."""

    def __init__(self, db: sqlite3.Connection, table: str, columns: list[str]) -> None:
        self.db, self.table, self.columns = db, table, columns
        self.rows: dict[int, tuple[Any, ...]] = {}
        self.unreadable = 0
        self.budget = PROBE_BUDGET

    def read(self) -> dict[int, tuple[Any, ...]]:
        select = f"SELECT rowid, {', '.join(self.columns)} FROM {self.table}"
        try:
            for row in self.db.execute(select + " ORDER BY rowid"):
                self.rows[row[0]] = tuple(row[1:])
            return self.rows
        except sqlite3.DatabaseError:
            pass
        try:
            top = self.db.execute(f"SELECT max(rowid) FROM {self.table}").fetchone()[0]
        except sqlite3.DatabaseError:
            top = None
        top = int(top) if top is not None else max(self.rows, default=0) + 10_000
        self._scan(select + " WHERE rowid BETWEEN ? AND ?", 1, top)
        return self.rows

    def _scan(self, query: str, low: int, high: int) -> None:
        pending = [(low, high)]
        while pending and self.budget > 0:
            low, high = pending.pop()
            self.budget -= 1
            try:
                found = self.db.execute(query, (low, high)).fetchall()
            except sqlite3.DatabaseError:
                if low == high:
                    self.unreadable += 1
                else:
                    middle = (low + high) // 2
                    pending += [(middle + 1, high), (low, middle)]
                continue
            for row in found:
                self.rows[row[0]] = tuple(row[1:])


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in db.execute(f"PRAGMA table_info({table})").fetchall()]


def _recover(source: Path, target: Path, report: RepairReport) -> None:
    """Copy what can be read of ``source`` into the fresh store at ``target``."""
    try:
        old = _reader(source)
        old.execute("PRAGMA user_version").fetchone()
        old_columns = {table: set(_columns(old, table)) for table in TABLES}
    except sqlite3.DatabaseError:
        for table in TABLES:
            report.recovered[table] = 0
        return
    new = sqlite3.connect(target, isolation_level=None)
    try:
        new.execute("PRAGMA foreign_keys=ON")
        runs: set[str] = set()
        for table in TABLES:
            columns = [c for c in _columns(new, table) if c in old_columns[table]]
            if table == "runs":
                columns = [c for c in columns if c != "rowid"]
            reader = _Reader(old, table, columns) if columns else None
            rows = reader.read() if reader else {}
            report.unreadable[table] = reader.unreadable if reader else 0
            kept = 0
            orphans = 0
            new.execute("BEGIN")
            for values in rows.values():
                record = dict(zip(columns, values, strict=True))
                if table != "runs" and record.get("run_id") not in runs:
                    orphans += 1
                    continue
                cursor = new.execute(
                    f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                    values)
                if cursor.rowcount == 1:
                    kept += 1
                    if table == "runs":
                        runs.add(record["id"])
            new.execute("COMMIT")
            report.recovered[table] = kept
            report.orphans[table] = orphans
        new.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        new.close()
        old.close()


def _remove(path: Path) -> None:
    for suffix in ("", *SIDE_FILES):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def repair_store(path: Path, *, force: bool = False) -> RepairReport:
    """Rebuild a damaged store at ``path`` from what can be read of it; the bad file is kept beside it.

    A store that checks ok is left alone unless ``force``. Raises :class:`StoreError` when another
    process has the store open.
    """
    from drain.store import Store

    path = Path(path)
    report = RepairReport(path)
    if not path.exists():
        return report
    if not force and check_store(path).ok:
        return report
    if _in_use(path):
        raise StoreError(f"another program has the run store at {path} open (drain serve or a batch?); "
                         "stop it, then run drain store repair again")
    report.backup = _copy_aside(path)
    fresh = path.with_name(f".{path.name}.repairing")
    scratch = path.with_name(f".{path.name}.damaged")  # read from a copy: the kept backup stays as it was
    for leftover in (fresh, scratch):
        _remove(leftover)
    try:
        for suffix in ("", *SIDE_FILES):
            if Path(f"{report.backup}{suffix}").exists():
                shutil.copy2(f"{report.backup}{suffix}", f"{scratch}{suffix}")
        Store(fresh)  # the current schema
        _recover(scratch, fresh, report)
        for suffix in SIDE_FILES:  # the old side files belong to the damaged file
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
        os.replace(fresh, path)
    finally:
        for leftover in (fresh, scratch):
            _remove(leftover)
    report.repaired = True
    return report
