"""The run store as the API server uses it: never on the event loop, never a long wait.

Requests read and vote through :meth:`ServerStore.call`, in a worker thread with a short busy timeout:
a store another program keeps locked answers 503 with ``Retry-After`` in about two seconds, a damaged
one 503 naming the commands that repair it. What a solve logs (the run, each model exchange, the
result) goes through a :class:`RunLog`: the planner's calls only queue the write, and one writer
thread applies them in order, waiting out a busy store. ``/healthz`` reads :attr:`ServerStore.health`,
which every call and a periodic probe keep current, and so never waits on the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from drain.config import DrainConfig, load_config
from drain.errors import StoreBusyError, StoreDamagedError, StoreError, UnknownRunError
from drain.serve.hardening import ApiError, scrub
from drain.store import Store

__all__ = ["RETRY_AFTER", "RunLog", "ServerStore", "StoreHealth"]

log = logging.getLogger("drain.serve")
T = TypeVar("T")
RETRY_AFTER = 5  # seconds a client is told to wait when the store is busy
REQUEST_BUSY_TIMEOUT = 2.0  # how long a request waits for another writer's lock
WRITER_BUSY_TIMEOUT = 5.0  # how long one attempt of the run-log writer waits
WRITER_PATIENCE = 300.0  # how long the writer keeps retrying one write on a busy store before it drops it
PROBE_SECONDS = 15.0
DAMAGED = ("the run store is damaged; the server's owner can check it with `drain store check` and repair it "
           "with `drain store repair`")


@dataclass
class StoreHealth:
    """What the server last learned about its store: ``unknown``, ``ok``, ``busy``, ``damaged`` or ``unavailable``."""

    state: str = "unknown"
    message: str | None = None
    since: float = field(default_factory=time.time)

    def set(self, state: str, message: str | None = None) -> None:
        if state == "ok" and self.state in ("damaged", "unavailable"):
            return  # one call that worked does not prove the file whole: only a check clears these
        if (state, message) != (self.state, self.message):
            self.state, self.message, self.since = state, message, time.time()

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "message": self.message, "since": round(self.since, 3)}


def _api_error(err: StoreError) -> ApiError:
    if isinstance(err, StoreBusyError):
        return ApiError(503, "store_busy", "the run store is busy: another program is writing to it; "
                        "try again in a few seconds", headers={"retry-after": str(RETRY_AFTER)})
    if isinstance(err, StoreDamagedError):
        return ApiError(503, "store_damaged", DAMAGED)
    return ApiError(503, "store_unavailable", f"the run store cannot be used: {scrub(err)}")


class _Writer:
    """One thread applying queued writes in order; a busy store is waited out, a damaged one skipped."""

    _STOP = object()

    def __init__(self, owner: ServerStore) -> None:
        self.owner = owner
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def put(self, job: Callable[[Store], Any]) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="drain-runlog", daemon=True)
                self.thread.start()
        self.jobs.put(job)

    async def flush(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until every write queued so far is applied."""
        if self.thread is None:
            return True
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def mark(_: Store) -> None:
            loop.call_soon_threadsafe(lambda: done.done() or done.set_result(True))

        self.jobs.put(("mark", mark))
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        if self.thread is not None:
            self.jobs.put(self._STOP)
            self.thread.join(timeout)
            self.thread = None

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            if job is self._STOP:
                return
            if isinstance(job, tuple):  # a flush mark
                with contextlib.suppress(RuntimeError):  # its event loop has closed: nobody waits any more
                    job[1](None)
                continue
            self._apply(job)

    def _apply(self, job: Callable[[Store], Any]) -> None:
        give_up = time.monotonic() + WRITER_PATIENCE
        while True:
            store = self.owner.store
            if store is None:
                return
            try:
                job(store.with_busy_timeout(WRITER_BUSY_TIMEOUT))
            except StoreBusyError as err:
                self.owner.health.set("busy", scrub(err))
                if time.monotonic() > give_up:
                    log.error("the run store stayed busy for %.0f s: one run-log write was dropped", WRITER_PATIENCE)
                    return
                time.sleep(0.5)
                continue
            except StoreError as err:
                self.owner.note_failure(err)
                log.error("a run-log write failed: %s", scrub(err))
                return
            except Exception as err:  # a bug must not stop the writer thread
                log.error("a run-log write failed", exc_info=err)
                return
            self.owner.health.set("ok")
            return


class RunLog:
    """What one solve's planner logs to (in place of a :class:`~drain.store.Store`): each call queues one
    write for the writer thread and returns at once; :meth:`start_run` returns the new run's id."""

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer
        self.run_id: str | None = None

    def start_run(self, problem: str, *, source: str, backend: dict[str, Any] | None = None,
                  settings: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        run_id = self.run_id = run_id or uuid.uuid4().hex[:16]
        self._writer.put(lambda s: s.start_run(problem, source=source, backend=backend, settings=settings,
                                               run_id=run_id))
        return run_id

    def log_exchange(self, run_id: str, exchange: Any, backend: dict[str, Any] | None = None) -> None:
        self._writer.put(lambda s: s.log_exchange(run_id, exchange, backend))

    def finish_run(self, run_id: str, tree: Any | None = None, *, error: str | None = None) -> None:
        self._writer.put(lambda s: s.finish_run(run_id, tree, error=error))

    async def flush(self, timeout: float = 5.0) -> bool:
        """Wait until this solve's writes so far are in the store (at most ``timeout`` seconds)."""
        return await self._writer.flush(timeout)


class ServerStore:
    """The server's store: opened in a thread, every call off the event loop, its health always at hand."""

    def __init__(self, store: Store | None = None, config: DrainConfig | None = None) -> None:
        self._given = store
        self.store: Store | None = store
        self._path = (config or load_config()).store_path if store is None else store.path
        self.health = StoreHealth()
        self._writer = _Writer(self)
        self._probe: asyncio.Task[None] | None = None

    def note_failure(self, err: StoreError) -> None:
        """Record what a failed call says about the store."""
        if isinstance(err, StoreBusyError):
            self.health.set("busy", "another program is writing to the run store")
        elif isinstance(err, StoreDamagedError):
            self.health.set("damaged", DAMAGED)
        elif not isinstance(err, UnknownRunError):
            self.health.set("unavailable", scrub(err))

    def _open(self) -> Store:
        if self.store is None:
            self.store = Store(self._path, busy_timeout=REQUEST_BUSY_TIMEOUT)
        return self.store

    def _check(self) -> None:
        """Open the store if need be and check it: ``quick_check`` when it is (or may be) damaged."""
        from drain.store_repair import check_store

        store = self._open()
        if self.health.state in ("unknown", "damaged"):
            check = check_store(store.path)
            if not check.ok:
                self.health.set("damaged", DAMAGED)
                return
            self.health.state = "ok"  # a check passed (the file may have been repaired meanwhile)
        store.with_busy_timeout(0.5).probe()
        self.health.set("ok")

    async def start(self) -> None:
        """Open and check the store (in a thread), then keep its health current in the background."""
        await self._checked()
        self._probe = asyncio.create_task(self._probe_loop())

    async def _checked(self) -> None:
        try:
            await asyncio.to_thread(self._check)
        except StoreError as err:
            self.note_failure(err)
        except Exception as err:
            log.error("checking the run store failed", exc_info=err)
            self.health.set("unavailable", "the run store could not be checked; the server log has the details")

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            await self._checked()

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        await asyncio.to_thread(self._writer.stop)

    @property
    def usable(self) -> bool:
        """False when the store is known to be damaged or unavailable (solves then run unlogged)."""
        return self.health.state not in ("damaged", "unavailable")

    async def call(self, action: Callable[[Store], T]) -> T:
        """``action(store)`` in a worker thread, waiting at most a couple of seconds for a lock; a store
        error becomes the API's 503 (or 404 for an unknown run)."""

        def run() -> T:
            return action(self._open().with_busy_timeout(REQUEST_BUSY_TIMEOUT))

        try:
            result = await asyncio.to_thread(run)
        except UnknownRunError:
            raise
        except StoreError as err:
            self.note_failure(err)
            raise _api_error(err) from None
        if self.health.state in ("unknown", "busy"):
            self.health.set("ok")
        return result

    async def run_log(self) -> RunLog | None:
        """The log for one solve, once the store has shown it can take a write now (503 if it is busy);
        None when the store is damaged or unavailable: the solve then runs unlogged."""
        if not self.usable:
            return None
        try:
            await self.call(lambda store: store.probe())
        except ApiError as err:
            if err.code == "store_busy":
                raise
            return None
        return RunLog(self._writer)
