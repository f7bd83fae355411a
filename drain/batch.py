"""Batch solving: whole files of problems, unattended, resumable and crash-safe.

Input is JSONL (objects with ``id`` and ``problem``; other fields are carried through), CSV (columns ``id``
and ``problem``) or TXT (one problem per line; the id is derived from the text). Output is JSONL, one line
per input: ``{"id", "result"}`` (the solve JSON contract) or ``{"id", "error"}``.

Every record is one ``write()`` of one complete line to a file opened with ``O_APPEND``, then ``fsync``; on
start a torn last line (a power cut mid-write) is cut off and the ids already done are read back. A run
killed at any instant therefore loses at most the problems in flight and never leaves a partial or a
duplicated line; running it again finishes the rest.

A batch against a server that fails every request stops after ``max_consecutive_failures`` problems
in a row fail (a circuit breaker): the problems it did not attempt are recorded with ``"not_attempted":
true``, which a rerun solves (they do not count as done).

Reading the files is in :mod:`drain.batch_io`; its names are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drain.backends.base import Backend, Completion, Message, SamplingOptions
from drain.batch_io import (
    FATAL,
    BatchFailedError,
    BatchItem,
    BatchStoppedError,
    DoneRecords,
    JsonlAppender,
    detect_format,
    drop_errors,
    drop_not_attempted,
    read_done,
    read_items,
    stable_id,
)
from drain.errors import KNOWN_ERRORS, InputError

__all__ = [
    "BatchFailedError",
    "BatchItem",
    "BatchPlan",
    "BatchStats",
    "BatchStoppedError",
    "DoneRecords",
    "JsonlAppender",
    "RequestGate",
    "detect_format",
    "drop_errors",
    "drop_not_attempted",
    "plan_batch",
    "read_done",
    "read_items",
    "run_batch",
    "stable_id",
]

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
    not_attempted: int = 0  # left unsolved when the circuit breaker stopped the batch

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
                    on_record: Callable[[BatchItem, dict[str, Any]], None] | None = None,
                    max_consecutive_failures: int | None = None) -> BatchStats:
    """Solve ``todo``, writing one record per problem as it ends.

    Without ``gate``, ``concurrency`` problems are in flight. With a gate (whose backend ``solve`` uses),
    a problem starts whenever a model slot is idle, so ``gate.limit`` requests stay in flight; at most
    ``4 * limit`` problems are open. A failed solve becomes an error record; an unreachable server or a
    missing model stops the batch (raised) without recording what it could not solve, so a rerun retries it.
    When ``max_consecutive_failures`` solves in a row fail (bad problem texts do not count), the batch
    stops: every problem without a record gets a ``not_attempted`` one, then :class:`BatchStoppedError`.
    """
    stats = stats or BatchStats()
    started = time.perf_counter()
    room = asyncio.Semaphore(4 * gate.limit if gate is not None else max(1, concurrency))
    tasks: set[asyncio.Task[None]] = set()
    failure: list[BaseException] = []
    recorded: set[int] = set()
    breaker = _Breaker(max_consecutive_failures)

    async def one(number: int, item: BatchItem) -> None:
        try:
            record, counts = await _solve_one(item, solve, stats)
            write(record)
            recorded.add(number)
            if on_record is not None:
                on_record(item, record)
            if breaker.tripped_by(record, counts) and not failure:
                failure.append(BatchStoppedError(breaker.streak[-1]))
                _cancel_others(tasks)
        except Exception as err:  # fatal for the batch: stop the other problems too
            failure.append(err)
            _cancel_others(tasks)
        finally:
            room.release()

    try:
        for number, item in enumerate(todo):
            await room.acquire()
            if gate is not None:
                await gate.idle.wait()
            if failure:
                break
            _start(tasks, one(number, item), number)
            for _ in range(4):  # let it reach the gate before deciding on the next one
                await asyncio.sleep(0)
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stats.seconds += time.perf_counter() - started
    if failure and isinstance(failure[0], BatchStoppedError):
        _record_not_attempted([item for number, item in enumerate(todo) if number not in recorded], write, stats,
                              len(breaker.streak), failure[0])
    if failure:
        raise failure[0]
    return stats


def _start(tasks: set[asyncio.Task[None]], coroutine: Awaitable[None], number: int) -> None:
    """Run ``coroutine`` as a task of ``tasks`` that knows its problem ``number`` (the gate serves by it)."""
    context = contextvars.copy_context()
    context.run(_PROBLEM.set, number)
    task = asyncio.create_task(coroutine, context=context)  # type: ignore[arg-type]
    tasks.add(task)
    task.add_done_callback(tasks.discard)


def _cancel_others(tasks: set[asyncio.Task[None]]) -> None:
    """Cancel every task of ``tasks`` but the running one (a fatal error or the breaker stops the batch)."""
    for task in tasks:
        if task is not asyncio.current_task():
            task.cancel()


@dataclass
class _Breaker:
    """The batch's circuit breaker: the errors of the failed solves in a row so far."""

    limit: int | None
    streak: list[str] = field(default_factory=list)

    def tripped_by(self, record: dict[str, Any], counts: bool) -> bool:
        """Count ``record`` (its failure ``counts``, or a success clears the streak); True at the limit."""
        if counts:
            self.streak.append(record["error"])
        elif "error" not in record:
            self.streak.clear()
        return bool(self.limit) and len(self.streak) >= (self.limit or 0)


def _record_not_attempted(left: Sequence[BatchItem], write: Write, stats: BatchStats, in_a_row: int,
                          last: BaseException) -> None:
    """Write a ``not_attempted`` record for each problem ``left``, then raise :class:`BatchStoppedError`."""
    why = (f"not attempted: the batch stopped after {in_a_row} problems in a row failed "
           f"(last: {last}); run it again to solve this one")
    for item in left:
        write(item.record(line=item.line, error=why, not_attempted=True))
    stats.not_attempted = len(left)
    raise BatchStoppedError(f"stopped after {in_a_row} problems in a row failed (last: {last}); "
                            f"{len(left)} problems were not attempted") from None


async def _solve_one(item: BatchItem, solve: Solve, stats: BatchStats) -> tuple[dict[str, Any], bool]:
    """The record for one problem, and whether its failure counts towards the circuit breaker (a bad
    problem text does not: the server is not to blame)."""
    try:
        tree = await solve(item.problem or "")
    except FATAL:
        raise
    except KNOWN_ERRORS as err:
        stats.failed += 1
        return item.record(line=item.line, error=str(err)), not isinstance(err, InputError)
    except Exception as err:  # one bad problem must not stop the batch: record it and go on
        stats.failed += 1
        return item.record(line=item.line, error=f"{type(err).__name__}: {err}"), True
    stats.solved += 1
    stats.partial += bool(tree.stats.partial_nodes)
    stats.prompt_tokens += tree.stats.prompt_tokens
    stats.completion_tokens += tree.stats.completion_tokens
    stats.llm_calls += tree.stats.llm_calls
    return item.record(result=tree.model_dump(mode="json")), False
