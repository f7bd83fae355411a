"""Batch solving: whole files of problems, unattended, resumable and crash-safe.

Input is JSONL (objects with ``id`` and ``problem``; other fields are carried through), CSV (columns ``id``
and ``problem``) or TXT (one problem per line; the id is derived from the text). Output is JSONL, one line
per input: ``{"id", "result"}`` (the solve JSON contract) or ``{"id", "error"}``.

Every record is one ``write()`` of one complete line to a file opened with ``O_APPEND``, then ``fsync``; on
start a torn last line (a power cut mid-write) is cut off and the ids already done are read back. A run
killed at any instant therefore loses at most the problems in flight and never leaves a partial or a
duplicated line; running it again finishes the rest.

>>> stable_id("leaking  basement on budget") == stable_id(" leaking basement on budget")
True
>>> stable_id("noisy furnace")
'p-...'
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import csv
import dataclasses
import hashlib
import heapq
import io
import itertools
import json
import os
import unicodedata
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drain.backends.base import Backend, Completion, Message, SamplingOptions
from drain.errors import BackendUnavailableError, DrainError, InputError, ModelNotFoundError

__all__ = [
    "BatchFailedError",
    "BatchItem",
    "BatchPlan",
    "BatchStats",
    "DoneRecords",
    "JsonlAppender",
    "RequestGate",
    "detect_format",
    "drop_errors",
    "plan_batch",
    "read_done",
    "read_items",
    "run_batch",
    "stable_id",
]

FORMATS = ("jsonl", "csv", "txt")
RESERVED = frozenset({"id", "problem", "result", "error", "line", "duplicate"})
# Errors that would fail every remaining problem the same way: stop the batch, record nothing for them.
FATAL = (BackendUnavailableError, ModelNotFoundError)


class BatchFailedError(DrainError):
    """The batch finished but some problems failed; each failure is a record in the output."""

    exit_code = 5


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


def _csv_items(text: str, path: Path) -> Iterator[BatchItem]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as err:
        raise InputError(f"{path} line 1: not a CSV header ({err})") from None
    names = [name.strip().lower() for name in header]
    if "problem" not in names:
        raise InputError(f"{path} has no 'problem' column (found: {', '.join(names) or 'none'})")
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield BatchItem(start, None, error=f"not valid CSV ({err})")
            start = reader.line_num + 1
            continue
        number, start = start, reader.line_num + 1
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
        done.ids.add(str(record["id"]))
        done.errors += "error" in record
    return done


def drop_errors(path: Path) -> int:
    """Remove the error records (not duplicate-id reports) from ``path``, atomically; returns how many."""
    if not path.exists():
        return 0
    kept, dropped = [], 0
    for raw in path.read_bytes().splitlines(keepends=True):
        record = json.loads(raw) if raw.strip() else None
        if isinstance(record, dict) and "error" in record and not record.get("duplicate"):
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
@dataclass
class BatchPlan:
    """What a run will do: problems to solve, input errors to record, what was done before."""

    todo: list[BatchItem] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # malformed lines and duplicates, to write now
    skipped: int = 0
    malformed: list[str] = field(default_factory=list)  # newly recorded ones, for the user
    duplicates: list[str] = field(default_factory=list)


def plan_batch(items: Sequence[BatchItem], done: DoneRecords) -> BatchPlan:
    """Split ``items`` into work, input errors (malformed lines, repeated ids) and what ``done`` holds."""
    plan = BatchPlan()
    first: dict[str, int] = {}
    for item in items:
        if item.id is not None and item.key in first:
            message = f"line {item.line}: duplicate id {item.id!r} (first on line {first[item.key]})"
            if item.line in done.duplicate_lines:
                plan.skipped += 1
            else:
                plan.duplicates.append(message)
                plan.records.append(item.record(line=item.line, duplicate=True, error=message))
            continue
        first[item.key] = item.line
        if item.key in done.ids:
            plan.skipped += 1
            continue
        if item.error is not None:
            message = f"line {item.line}: {item.error}"
            plan.malformed.append(message)
            plan.records.append(item.record(line=item.line, error=message))
            continue
        plan.todo.append(item)
    return plan


# ---------------------------------------------------------------------------------------------------- running
@dataclass
class BatchStats:
    """Counts and totals of one batch run."""

    total: int = 0
    solved: int = 0
    partial: int = 0
    failed: int = 0
    skipped: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_calls: int = 0
    seconds: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


Solve = Callable[[str], Awaitable[Any]]
Write = Callable[[dict[str, Any]], None]
_PROBLEM: contextvars.ContextVar[int] = contextvars.ContextVar("drain_batch_problem", default=0)


class RequestGate(Backend):
    """A backend wrapper: at most ``limit`` requests in flight over all solves, the oldest problem's first.

    :func:`run_batch` starts a new problem whenever a slot is free and nobody waits for one, so the server
    always has ``limit`` requests (what a load generator at that concurrency keeps) while problems wait
    for their own earlier levels.
    """

    def __init__(self, inner: Backend, limit: int) -> None:
        self.inner = inner
        self.limit = max(1, limit)
        self.name = inner.name  # type: ignore[misc]
        self.model, self.adapter = inner.model, inner.adapter
        self.capabilities = dataclasses.replace(inner.capabilities, parallel_slots=self.limit)
        self.active = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._idle: asyncio.Event | None = None

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

    @property
    def idle(self) -> asyncio.Event:
        """Set while a slot is free and no request waits."""
        if self._idle is None:
            self._idle = asyncio.Event()
            self._update()
        return self._idle

    def _update(self) -> None:
        if self._idle is not None:
            free = self.active < self.limit and not self._waiting
            self._idle.set() if free else self._idle.clear()

    async def complete(self, messages: Sequence[Message], *, schema: Mapping[str, Any] | None = None,
                       options: SamplingOptions = SamplingOptions()) -> Completion:
        if self.active < self.limit and not self._waiting:
            self.active += 1
            self._update()
        else:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heapq.heappush(self._waiting, (_PROBLEM.get(), next(self._order), turn))
            self._update()
            try:
                await turn  # granted by _release, which counted this request in
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()
                raise
        try:
            return await self.inner.complete(messages, schema=schema, options=options)
        finally:
            self._release()

    def _release(self) -> None:
        self.active -= 1
        while self._waiting:
            *_, turn = heapq.heappop(self._waiting)
            if not turn.done():
                self.active += 1
                turn.set_result(None)
                break
        self._update()


async def run_batch(todo: Sequence[BatchItem], solve: Solve, write: Write, *, concurrency: int = 4,
                    gate: RequestGate | None = None, stats: BatchStats | None = None,
                    on_record: Callable[[BatchItem, dict[str, Any]], None] | None = None) -> BatchStats:
    """Solve ``todo``, writing one record per problem as it ends.

    Without ``gate``, ``concurrency`` problems are in flight. With a gate (whose backend ``solve`` uses),
    a problem starts whenever a model slot is idle, so ``gate.limit`` requests stay in flight; at most
    ``4 * limit`` problems are open. A failed solve becomes an error record; an unreachable server or a
    missing model stops the batch (raised) without recording what it could not solve, so a rerun retries it.
    """
    import time

    stats = stats or BatchStats()
    started = time.perf_counter()
    room = asyncio.Semaphore(4 * gate.limit if gate is not None else max(1, concurrency))
    tasks: set[asyncio.Task[None]] = set()
    failure: list[BaseException] = []

    async def one(item: BatchItem) -> None:
        try:
            record = await _solve_one(item, solve, stats)
            write(record)
            if on_record is not None:
                on_record(item, record)
        except Exception as err:  # fatal for the batch: stop the other problems too
            failure.append(err)
            for task in tasks:
                if task is not asyncio.current_task():
                    task.cancel()
        finally:
            room.release()

    try:
        for number, item in enumerate(todo):
            await room.acquire()
            if gate is not None:
                await gate.idle.wait()
            if failure:
                break
            context = contextvars.copy_context()
            context.run(_PROBLEM.set, number)
            task = asyncio.create_task(one(item), context=context)
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            for _ in range(4):  # let it reach the gate before deciding on the next one
                await asyncio.sleep(0)
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stats.seconds += time.perf_counter() - started
    if failure:
        raise failure[0]
    return stats


async def _solve_one(item: BatchItem, solve: Solve, stats: BatchStats) -> dict[str, Any]:
    try:
        tree = await solve(item.problem or "")
    except FATAL:
        raise
    except DrainError as err:
        stats.failed += 1
        return item.record(line=item.line, error=str(err))
    except Exception as err:  # one bad problem must not stop the batch: record it and go on
        stats.failed += 1
        return item.record(line=item.line, error=f"{type(err).__name__}: {err}")
    stats.solved += 1
    stats.partial += bool(tree.stats.partial_nodes)
    stats.prompt_tokens += tree.stats.prompt_tokens
    stats.completion_tokens += tree.stats.completion_tokens
    stats.llm_calls += tree.stats.llm_calls
    return item.record(result=tree.model_dump(mode="json"))
