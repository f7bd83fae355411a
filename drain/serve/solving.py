"""Solving for the API: one Planner per request on one shared backend, bounded in number and in time.

``POST /v1/solve`` waits for the whole tree; ``POST /v1/solve/stream`` sends the planner's events as
server-sent events (``start``, ``level``, ``tree`` snapshots, then ``result`` or ``error``).

Each solve runs as its own asyncio task. A solve that outlives the timeout, or whose client leaves
the stream, is cancelled: the cancellation reaches the backend's request in flight, which stops the
model's work, and the solve's slot is freed when the task has really ended (``/healthz`` lists the
solves still running, cancelled ones included). The 504 does not wait for that: it is answered at the
limit, and the cancelled solve gets at most :data:`CANCEL_GRACE` seconds to record itself first.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from drain.backends.base import Backend, SamplingOptions
from drain.config import DrainConfig, load_config
from drain.errors import KNOWN_ERRORS, DrainError
from drain.planner import Planner, PlannerSettings
from drain.serve.hardening import ApiError, drain_error_status, scrub
from drain.serve.runlog import RunLog, ServerStore
from drain.serve.schemas import SolveRequest
from drain.store import Store

__all__ = ["CANCEL_GRACE", "SolveService", "public_tree", "sse"]

log = logging.getLogger("drain.serve")
KEEPALIVE_SECONDS = 15.0
CANCEL_GRACE = 0.5  # seconds a timed-out solve gets to wind down before the 504 goes out
FLUSH_SECONDS = 3.0  # at most this long a finished solve waits for its run to be in the store


def public_tree(tree: Any) -> dict[str, Any]:
    """A tree (model or JSON dict) as the API answers it: the solve JSON contract, adapter by file name only."""
    data = tree.model_dump(mode="json") if hasattr(tree, "model_dump") else dict(tree)
    backend = data.get("backend")
    if isinstance(backend, dict) and backend.get("adapter"):
        data["backend"] = {**backend, "adapter": PurePath(str(backend["adapter"])).name}
    return data


def sse(kind: str, data: Any) -> str:
    """One server-sent event: ``event: kind`` and its JSON on one ``data:`` line."""
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


@dataclass
class _Solve:
    """One of the server's concurrent solves: its slot is released once, when its task has ended."""

    service: SolveService
    runlog: RunLog | None
    started: float = field(default_factory=time.monotonic)
    task: asyncio.Task[Any] | None = None
    cancelled: bool = False
    held: bool = True

    def run(self, work: Any) -> asyncio.Task[Any]:
        self.task = asyncio.create_task(work)
        self.task.add_done_callback(lambda _: self.release())
        return self.task

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.cancelled = True
            self.task.cancel()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.service.solves.remove(self)

    def describe(self) -> dict[str, Any]:
        return {"run_id": self.runlog.run_id if self.runlog else None,
                "seconds": round(time.monotonic() - self.started, 1),
                "state": "cancelling" if self.cancelled else "solving"}

    async def flush(self, seconds: float = FLUSH_SECONDS) -> None:
        if self.runlog is not None and not await self.runlog.flush(seconds):
            log.warning("the run store is slow: run %s is answered before it is stored", self.runlog.run_id)


class _EventStream(StreamingResponse):
    """A server-sent event stream whose solve is cancelled when the response ends, however it ends."""

    def __init__(self, content: AsyncIterator[str], solve: _Solve, headers: dict[str, str]) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={"cache-control": "no-store", "x-accel-buffering": "no", **headers})
        self.solve = solve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.solve.cancel()
            if self.solve.task is None:  # the stream never started its solve
                self.solve.release()
            else:  # give it a moment to stop and record itself; its slot is freed when it has
                await asyncio.wait({self.solve.task}, timeout=CANCEL_GRACE)


class SolveService:
    """The shared backend, the store, the default settings and the solve limits."""

    def __init__(self, backend_factory: Callable[[], Backend], *, store: Store | None, settings: PlannerSettings,
                 max_concurrent: int, timeout: float, config: DrainConfig | None = None) -> None:
        if max_concurrent < 1:
            raise DrainError("max_concurrent_solves must be at least 1")
        if timeout <= 0:
            raise DrainError("request_timeout must be positive")
        self._factory = backend_factory
        self._backend: Backend | None = None
        self.config = config or load_config()  # the store, the data folders and the caches
        self.runs = ServerStore(store, self.config)
        self.settings = settings
        self.max_concurrent = max_concurrent
        self.timeout = timeout
        self.solves: list[_Solve] = []
        self.model_state = "not loaded"  # then "loading", "ready" or "failed"
        self.model_error: str | None = None
        self._warm: asyncio.Task[None] | None = None
        self._knowledge: Any = None
        self._prompts: Any = None
        self._grounder: Any = None  # the house library and its vectors, shared by every solve

    @property
    def active(self) -> int:
        """Solves whose task has not ended (cancelled ones still stopping included)."""
        return len(self.solves)

    async def backend(self) -> Backend:
        """The one backend every request shares, made on first use."""
        if self._backend is None:  # no await in between: one backend, however many requests arrive at once
            self._backend = self._factory()
        return self._backend

    @property
    def backend_info(self) -> dict[str, Any] | None:
        """What serves the model, once it is made (backend, model and adapter names, no paths)."""
        if self._backend is None:
            return None
        info = self._backend.describe()
        return {"backend": info.get("backend"), "model": PurePath(str(info.get("model") or "")).name or None,
                "adapter": PurePath(str(info.get("adapter") or "")).name or None}

    # ------------------------------------------------------------------------------------------ life
    async def start(self) -> None:
        """At server start: make the backend, open the store, and load the model in the background."""
        backend = await self.backend()  # a missing model file stops the server here, not at the first request
        await self.runs.start()
        self.model_state = "loading"
        self._warm = asyncio.create_task(self._warm_up(backend))

    async def _warm_up(self, backend: Backend) -> None:
        started = time.monotonic()
        try:
            warm_up = getattr(backend, "warm_up", None)
            if callable(warm_up):
                result = warm_up()
                if inspect.isawaitable(result):
                    await result
            else:  # a backend without the hook: one short request loads it just the same
                await backend.complete([{"role": "user", "content": "Say OK."}],
                                       options=SamplingOptions(max_tokens=1))
            if self.settings.grounded:  # the house library's vectors and the embedding model, loaded once
                await asyncio.to_thread(self._load_grounder)
        except Exception as err:
            self.model_state, self.model_error = "failed", scrub(err)
            log.error("the model could not be loaded: %s", scrub(err))
            return
        self.model_state = "ready"
        log.info("the model is ready (%.1f s)", time.monotonic() - started)

    def _load_knowledge(self) -> None:
        if self._knowledge is None:
            self._knowledge, self._prompts = self.config.knowledge(), self.config.prompts()

    def _load_grounder(self) -> Any:
        self._load_knowledge()
        if self._grounder is None:
            from drain.grounding.grounder import shared_grounder

            grounder = shared_grounder(self._knowledge, self.config)
            grounder.semantic_hazards  # noqa: B018 - reads the library, its vectors and the hazard tuning now
            self._grounder = grounder
        return self._grounder

    async def close(self) -> None:
        """At shutdown: stop the solves still running, then release the store and the backend."""
        for solve in list(self.solves):
            solve.cancel()
        tasks = [s.task for s in self.solves if s.task is not None]
        if self._warm is not None and not self._warm.done():
            self._warm.cancel()
            tasks.append(self._warm)
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await self.runs.close()
        if self._backend is not None:
            backend, self._backend = self._backend, None
            await backend.aclose()

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` reports; reads only what is already known (it never waits on the store)."""
        from drain import __version__

        store = self.runs.health.as_json()
        degraded = store["state"] in ("damaged", "unavailable") or self.model_state == "failed"
        model: dict[str, Any] = {"state": self.model_state}
        if self.model_error:
            model["error"] = self.model_error
        return {"status": "degraded" if degraded else "ok", "version": __version__, "backend": self.backend_info,
                "model": model, "store": store, "solving": self.active,
                "solves": [s.describe() for s in self.solves], "max_concurrent_solves": self.max_concurrent}

    # ------------------------------------------------------------------------------------------ solving
    def settings_for(self, body: SolveRequest) -> PlannerSettings:
        """The server's settings with the request's overrides."""
        overrides = {k: v for k, v in (("depth", body.depth), ("max_calls", body.max_calls), ("seed", body.seed))
                     if v is not None}
        return replace(self.settings, **overrides)

    def _acquire(self) -> None:
        if self.active >= self.max_concurrent:
            raise ApiError(503, "busy", f"the server is already solving {self.active} problems; try again shortly",
                           headers={"retry-after": "5"})

    async def _prepare(self, settings: PlannerSettings,
                       on_event: Callable[[str, dict[str, Any]], None] | None = None) -> tuple[_Solve, Planner]:
        """A slot (or 503), the model ready, the run log (or 503 for a busy store) and a fresh Planner."""
        self._acquire()
        solve = _Solve(self, None)
        self.solves.append(solve)  # counted at once: no await between the check and this
        try:
            if self._warm is not None and not self._warm.done():
                try:
                    await asyncio.wait_for(asyncio.shield(self._warm), self.timeout)
                except TimeoutError:
                    raise ApiError(503, "loading", "the model is still loading; try again shortly",
                                   headers={"retry-after": "5"}) from None
            solve.runlog = await self.runs.run_log()
            backend = await self.backend()
            self._load_knowledge()
            grounder = self._load_grounder() if settings.grounded else None
            planner = Planner(backend, settings, knowledge=self._knowledge, prompts=self._prompts, grounder=grounder,
                              on_event=on_event, store=solve.runlog,  # type: ignore[arg-type]
                              log=None if solve.runlog is not None else False, source="api", config=self.config)
        except BaseException:
            solve.release()
            raise
        return solve, planner

    def _headers(self, solve: _Solve) -> dict[str, str]:
        if solve.runlog is None:
            return {"drain-warning": "this run was not logged: the run store is damaged or unavailable"}
        return {}

    def _timeout_message(self) -> str:
        return f"the solve took longer than {self.timeout:g} s; try depth 1 or a shorter problem"

    async def solve(self, text: str, settings: PlannerSettings,
                    family: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
        """Solve ``text`` within the timeout; the tree as JSON and the response's extra headers.

        ``family``: the house-library family the homeowner chose (the answer to a tree's ``clarify``).
        """
        solve, planner = await self._prepare(settings)
        task = solve.run(planner.solve_async(text, family=family))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout - (time.monotonic() - solve.started))
        except asyncio.CancelledError:
            solve.cancel()
            raise
        if not done:
            solve.cancel()
            await asyncio.wait({task}, timeout=CANCEL_GRACE)
            await solve.flush(CANCEL_GRACE)  # the 504 goes out within a second of the limit, stored or not
            raise ApiError(504, "timeout", self._timeout_message())
        await solve.flush()
        return public_tree(task.result()), self._headers(solve)

    async def stream(self, text: str, settings: PlannerSettings, request: Request,
                     family: str | None = None) -> StreamingResponse:
        """The solve as server-sent events; 503 before the stream starts when every slot is busy."""
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def queued(kind: str, data: dict[str, Any]) -> None:  # the tree as it is now, in the JSON contract
            queue.put_nowait((kind, {**data, "tree": public_tree(data["tree"])} if kind == "tree" else data))

        solve, planner = await self._prepare(settings, on_event=queued)
        return _EventStream(self._events(solve, planner, text, queue, request, family), solve, self._headers(solve))

    async def _run(self, solve: _Solve, planner: Planner, text: str, queue: asyncio.Queue[tuple[str, Any]],
                   family: str | None = None) -> None:
        try:
            tree = await planner.solve_async(text, family=family)
        except KNOWN_ERRORS as err:
            status, code = drain_error_status(err)
            message = scrub(err) if status != 500 else "internal error; the server log has the details"
            queue.put_nowait(("error", {"error": code, "message": message, "status": status}))
        except Exception as err:
            log.error("internal error in a streamed solve", exc_info=err)
            queue.put_nowait(("error", {"error": "internal", "status": 500,
                                        "message": "internal error; the server log has the details"}))
        else:
            await solve.flush()
            queue.put_nowait(("result", public_tree(tree)))

    async def _events(self, solve: _Solve, planner: Planner, text: str, queue: asyncio.Queue[tuple[str, Any]],
                      request: Request, family: str | None = None) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        solve.run(self._run(solve, planner, text, queue, family))
        deadline = loop.time() + self.timeout - (time.monotonic() - solve.started)
        last_sent = loop.time()
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    solve.cancel()
                    yield sse("error", {"error": "timeout", "message": self._timeout_message(), "status": 504})
                    return
                try:
                    kind, data = await asyncio.wait_for(queue.get(), timeout=min(remaining, 1.0))
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    if loop.time() - last_sent >= KEEPALIVE_SECONDS:
                        last_sent = loop.time()
                        yield ": keep-alive\n\n"
                    continue
                last_sent = loop.time()
                yield sse(kind, data)
                if kind in ("result", "error"):
                    return
        finally:
            solve.cancel()  # a client that left, or a timeout: the planner records the run as cancelled
