"""Batch files: reading problems (JSONL, CSV, TXT, with line numbers) and the crash-safe output file.

>>> stable_id("leaking  basement on budget") == stable_id(" leaking basement on budget")
True
>>> stable_id("noisy furnace")
'p-...'
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drain.errors import (
    BackendUnavailableError,
    BatchFailedError,
    BatchStoppedError,
    InputError,
    ModelNotFoundError,
)

__all__ = [
    "FATAL",
    "BatchFailedError",
    "BatchItem",
    "BatchStoppedError",
    "DoneRecords",
    "JsonlAppender",
    "detect_format",
    "drop_errors",
    "drop_not_attempted",
    "read_done",
    "read_items",
    "stable_id",
]

FORMATS = ("jsonl", "csv", "txt")
RESERVED = frozenset({"id", "problem", "result", "error", "line", "duplicate", "not_attempted"})
# Errors that would fail every remaining problem the same way: stop the batch, record nothing for them.
FATAL = (BackendUnavailableError, ModelNotFoundError)



@dataclass(frozen=True)
class BatchItem:
    """One input line: an id and a problem, or the reason the line cannot be used."""

    line: int
    id: str | int | None
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def key(self) -> str:
        """The id as text (``line-N`` when the line has none)."""
        return f"line-{self.line}" if self.id is None else str(self.id)

    def record(self, **fields: Any) -> dict[str, Any]:
        """An output record for this item: its id, its carried fields, then ``fields``."""
        return {"id": self.key if self.id is None else self.id, **self.extra, **fields}


def stable_id(text: str) -> str:
    """An id derived from the problem text alone (whitespace and Unicode form do not change it)."""
    normal = " ".join(unicodedata.normalize("NFC", text).split())
    return "p-" + hashlib.sha256(normal.encode("utf-8")).hexdigest()[:12]


def detect_format(path: Path, override: str | None = None) -> str:
    """``jsonl``, ``csv`` or ``txt``, from ``override`` or the file name."""
    if override:
        if override not in FORMATS:
            raise InputError(f"--input-format must be one of {', '.join(FORMATS)}, not {override!r}")
        return override
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".txt", ".text", ""):
        return "txt"
    raise InputError(f"cannot tell the format of {path} from its name; use --input-format jsonl, csv or txt")


def read_items(path: Path, fmt: str | None = None) -> list[BatchItem]:
    """Every usable or malformed line of ``path``, with its line number (blank lines are skipped)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None
    if b"\x00" in data:
        raise InputError(f"{path} holds binary data, not text")
    kind = detect_format(path, fmt)
    if kind == "jsonl":
        return list(_jsonl_items(data))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{path} is not UTF-8 text (bad byte at position {err.start}): save it as UTF-8") from None
    return list(_csv_items(text, path) if kind == "csv" else _txt_items(text))


def _jsonl_items(data: bytes) -> Iterator[BatchItem]:
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            yield BatchItem(number, None, error=f"not UTF-8 (bad byte at column {err.start + 1})")
            continue
        except json.JSONDecodeError as err:
            yield BatchItem(number, None, error=f"not valid JSON ({err.msg} at column {err.colno})")
            continue
        if not isinstance(value, dict):
            yield BatchItem(number, None, error=f"expected a JSON object, got {type(value).__name__}")
            continue
        yield _checked(number, value)


def _checked(number: int, value: dict[str, Any]) -> BatchItem:
    """An item from one parsed row, or the reason it is malformed."""
    ident = value.get("id")
    extra = {(f"input_{k}" if k in RESERVED else k): v for k, v in value.items() if k not in ("id", "problem")}
    if ident is None or (isinstance(ident, str) and not ident.strip()):
        return BatchItem(number, None, extra=extra, error='no "id"')
    if isinstance(ident, bool) or not isinstance(ident, str | int):
        return BatchItem(number, None, extra=extra, error=f'"id" must be a string or an integer, not {ident!r}')
    problem = value.get("problem")
    if not isinstance(problem, str) or not problem.strip():
        why = 'no "problem"' if problem is None else '"problem" must be non-empty text'
        return BatchItem(number, ident, extra=extra, error=why)
    return BatchItem(number, ident, problem, extra)


def _csv_records(lines: list[str], first: int, delimiter: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """``(line, row, None)`` for each CSV record from physical line ``first`` on, or ``(line, None, error)``
    for one that does not parse; reading then starts again on the line after the one where it began, so an
    unterminated quote costs its own row only, not every row after it."""
    start = first
    while start <= len(lines):
        reader = csv.reader(io.StringIO("".join(lines[start - 1:]), newline=""), delimiter=delimiter, strict=True)
        begin = start
        try:
            for row in reader:
                yield begin, row, None
                begin = start + reader.line_num
            return
        except csv.Error as err:
            why = ("a quoted field starts on this line and is never closed" if "end of data" in str(err)
                   else str(err))
            yield begin, None, f"not valid CSV ({why})"
            start = begin + 1


def _csv_items(text: str, path: Path) -> Iterator[BatchItem]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    lines = io.StringIO(text, newline="").readlines()  # split as the csv module splits
    records = _csv_records(lines, 1, delimiter)
    try:
        _, header, error = next(records)
    except StopIteration:
        return
    if header is None:
        raise InputError(f"{path} line 1: not a CSV header ({error})")
    names = [name.strip().lower() for name in header]
    if "problem" not in names:
        raise InputError(f"{path} has no 'problem' column (found: {', '.join(names) or 'none'})")
    for number, row, error in records:
        if row is None:
            yield BatchItem(number, None, error=error)
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            yield BatchItem(number, None, error=f"has {len(row)} fields, the header has {len(names)}")
            continue
        value: dict[str, Any] = dict(zip(names, row, strict=True))
        if "id" not in names:
            value["id"] = stable_id(value["problem"])
        yield _checked(number, value)


def _txt_items(text: str) -> Iterator[BatchItem]:
    for number, line in enumerate(text.splitlines(), start=1):
        problem = line.strip()
        if problem:
            yield BatchItem(number, stable_id(problem), problem)


# ---------------------------------------------------------------------------------------------------- output
@dataclass
class DoneRecords:
    """What an existing output file already holds."""

    ids: set[str] = field(default_factory=set)  # ids with a result or an error
    duplicate_lines: set[int] = field(default_factory=set)  # input lines recorded as duplicate ids
    repaired: int = 0  # bytes of a torn last line cut off
    errors: int = 0
    error_ids: set[str] = field(default_factory=set)  # the ids recorded as errors
    not_attempted: int = 0  # records of problems a stopped batch did not attempt (not done: a rerun solves them)


def read_done(path: Path, *, repair: bool = True) -> DoneRecords:
    """The records already in ``path``; a torn last line is cut off first (``repair``)."""
    done = DoneRecords()
    if not path.exists():
        return done
    with path.open("r+b" if repair else "rb") as handle:
        data = handle.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            done.repaired = len(data) - end
            data = data[:end]
            if repair:
                handle.truncate(end)
                os.fsync(handle.fileno())
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        if not isinstance(record, dict) or "id" not in record or not ("result" in record or "error" in record):
            raise InputError(f"{path} line {number} is not a drain batch record; choose another --output")
        if record.get("duplicate"):
            done.duplicate_lines.add(int(record.get("line") or 0))
            continue
        if record.get("not_attempted"):
            done.not_attempted += 1
            continue
        done.ids.add(str(record["id"]))
        done.errors += "error" in record
        if "error" in record:
            done.error_ids.add(str(record["id"]))
    return done


def drop_errors(path: Path) -> int:
    """Remove the error records (not duplicate-id reports) from ``path``, atomically; returns how many."""
    return _drop(path, lambda record: "error" in record and not record.get("duplicate"))


def drop_not_attempted(path: Path) -> int:
    """Remove the records of problems a stopped batch did not attempt, atomically; returns how many."""
    return _drop(path, lambda record: bool(record.get("not_attempted")))


def _drop(path: Path, unwanted: Callable[[dict[str, Any]], bool]) -> int:
    if not path.exists():
        return 0
    kept, dropped = [], 0
    for raw in path.read_bytes().splitlines(keepends=True):
        record = json.loads(raw) if raw.strip() else None
        if isinstance(record, dict) and unwanted(record):
            dropped += 1
        elif raw.strip():
            kept.append(raw)
    if dropped:
        temporary = path.with_name(f".{path.name}.tmp")
        with temporary.open("wb") as handle:
            handle.writelines(kept)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_dir(path.parent)
    return dropped


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # makes a new or renamed file's name durable (POSIX)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class JsonlAppender:
    """Append JSON records to a file, one complete line per ``write()``, each synced to disk.

    The file is locked (``flock``) so that two batches cannot write the same output at once.
    """

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.sync = fsync
        new = not path.exists()
        try:
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as err:
            raise InputError(f"cannot write {path}: {err.strerror}") from None
        if new and fsync:
            _fsync_dir(path.parent)
        try:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # not POSIX: no lock, the rest still holds
            pass
        except OSError:
            os.close(self.fd)
            raise InputError(f"another drain batch is writing {path}; wait for it or choose another --output") from None

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one line and sync it."""
        data = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        written = os.write(self.fd, data)
        while written < len(data):  # a short write (full disk, signal): finish the line
            written += os.write(self.fd, data[written:])
        if self.sync:
            os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------------- planning
