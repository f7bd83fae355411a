"""Solving for the API: one Planner per request on one shared backend, bounded in number and in time.

``POST /v1/solve`` waits for the whole tree; ``POST /v1/solve/stream`` sends the planner's events as
server-sent events (``start``, ``level``, ``tree`` snapshots, then ``result`` or ``error``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import PurePath
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from drain.backends.base import Backend
from drain.errors import DrainError
from drain.planner import Planner, PlannerSettings
from drain.serve.hardening import ApiError, drain_error_status, scrub
from drain.serve.schemas import SolveRequest
from drain.store import Store, open_default_store

__all__ = ["SolveService", "public_tree", "sse"]

log = logging.getLogger("drain.serve")
KEEPALIVE_SECONDS = 15.0


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


class _Slot:
    """One of the server's concurrent solves; released once, however the request ends."""

    def __init__(self, service: SolveService) -> None:
        self.service = service
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.service.active -= 1


class _EventStream(StreamingResponse):
    """A server-sent event stream that frees its solve slot when the response ends, however it ends."""

    def __init__(self, content: AsyncIterator[str], slot: _Slot) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={"cache-control": "no-store", "x-accel-buffering": "no"})
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


class SolveService:
    """The shared backend (made on first use), the store, the default settings and the solve limits."""

    def __init__(self, backend_factory: Callable[[], Backend], *, store: Store | None, settings: PlannerSettings,
                 max_concurrent: int, timeout: float) -> None:
        if max_concurrent < 1:
            raise DrainError("max_concurrent_solves must be at least 1")
        if timeout <= 0:
            raise DrainError("request_timeout must be positive")
        self._factory = backend_factory
        self._backend: Backend | None = None
        self._store = store
        self.settings = settings
        self.max_concurrent = max_concurrent
        self.timeout = timeout
        self.active = 0
        self._knowledge: Any = None
        self._prompts: Any = None

    @property
    def store(self) -> Store:
        """The run store (the default one unless the app was given one)."""
        if self._store is None:
            self._store = open_default_store()
        return self._store

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

    async def close(self) -> None:
        """Release the backend (at shutdown)."""
        if self._backend is not None:
            backend, self._backend = self._backend, None
            await backend.aclose()

    def settings_for(self, body: SolveRequest) -> PlannerSettings:
        """The server's settings with the request's overrides."""
        overrides = {k: v for k, v in (("depth", body.depth), ("max_calls", body.max_calls), ("seed", body.seed))
                     if v is not None}
        return replace(self.settings, **overrides)

    def acquire(self) -> _Slot:
        """Take a solve slot, or answer 503 at once when every slot is busy."""
        if self.active >= self.max_concurrent:
            raise ApiError(503, "busy", f"the server is already solving {self.active} problems; try again shortly",
                           headers={"retry-after": "5"})
        self.active += 1
        return _Slot(self)

    async def planner(self, settings: PlannerSettings, on_event: Callable[[str, dict[str, Any]], None] | None = None,
                      ) -> Planner:
        """A fresh Planner for one request, on the shared backend, logging to the store as the CLI does."""
        backend = await self.backend()
        if self._knowledge is None:
            from drain.prompts import PromptLibrary
            from triz.knowledge import load

            self._knowledge, self._prompts = load(), PromptLibrary()
        return Planner(backend, settings, knowledge=self._knowledge, prompts=self._prompts, on_event=on_event,
                       store=self.store, source="api")

    def _timeout_message(self) -> str:
        return f"the solve took longer than {self.timeout:g} s; try depth 1 or a shorter problem"

    async def solve(self, text: str, settings: PlannerSettings) -> dict[str, Any]:
        """Solve ``text`` within the timeout; the tree as JSON."""
        slot = self.acquire()
        try:
            planner = await self.planner(settings)
            tree = await asyncio.wait_for(planner.solve_async(text), self.timeout)
        except TimeoutError:
            raise ApiError(504, "timeout", self._timeout_message()) from None
        finally:
            slot.release()
        return public_tree(tree)

    async def stream(self, text: str, settings: PlannerSettings, request: Request) -> StreamingResponse:
        """The solve as server-sent events; 503 before the stream starts when every slot is busy."""
        slot = self.acquire()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        try:
            planner = await self.planner(settings, on_event=lambda kind, data: queue.put_nowait((kind, data)))
        except BaseException:
            slot.release()
            raise
        return _EventStream(self._events(planner, text, queue, request), slot)

    async def _run(self, planner: Planner, text: str, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        try:
            tree = await planner.solve_async(text)
        except DrainError as err:
            status, code = drain_error_status(err)
            message = scrub(err) if status != 500 else "internal error; the server log has the details"
            queue.put_nowait(("error", {"error": code, "message": message, "status": status}))
        except Exception as err:
            log.error("internal error in a streamed solve", exc_info=err)
            queue.put_nowait(("error", {"error": "internal", "status": 500,
                                        "message": "internal error; the server log has the details"}))
        else:
            queue.put_nowait(("result", public_tree(tree)))

    async def _events(self, planner: Planner, text: str, queue: asyncio.Queue[tuple[str, Any]],
                      request: Request) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(self._run(planner, text, queue))
        deadline = loop.time() + self.timeout
        last_sent = loop.time()
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
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
                if kind == "tree":
                    data = {**data, "tree": public_tree(data["tree"])}
                last_sent = loop.time()
                yield sse(kind, data)
                if kind in ("result", "error"):
                    return
        finally:
            if not task.done():
                task.cancel()  # the planner records the run as cancelled in the store
