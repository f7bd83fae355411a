"""A scripted backend for unit tests: replies from a queue or a function, every request recorded.

Without a script it answers any JSON schema with the smallest valid reply (first enum value, short
strings), so the planner's logic can be tested without a model.

>>> import asyncio
>>> fake = FakeBackend()
>>> fake.enqueue('{"answer": 42}')
>>> asyncio.run(fake.complete([{"role": "user", "content": "?"}])).text
'{"answer": 42}'
>>> fake.requests[0].messages[0]["content"]
'?'
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drain.backends.base import Backend, Capabilities, Completion, Message, SamplingOptions
from drain.errors import BackendError

__all__ = ["FakeBackend", "FakeRequest", "minimal_instance"]


@dataclass(frozen=True)
class FakeRequest:
    messages: list[dict[str, str]]
    schema: dict[str, Any] | None
    options: SamplingOptions


Responder = Callable[[FakeRequest], "str | Exception"]


class FakeBackend(Backend):
    """Replies from ``enqueue()``d texts first, then from ``responder``, then schema-minimal JSON."""

    name = "fake"

    def __init__(self, responder: Responder | None = None, *, slots: int = 4, model: str = "fake-model",
                 delay: float = 0.0) -> None:
        self.responder = responder
        self.delay = delay  # seconds to sleep per request (slow solves; ``--backend fake``: $DRAIN_FAKE_DELAY)
        self.model = model
        self.capabilities = Capabilities(parallel_slots=slots)
        self.requests: list[FakeRequest] = []
        self._queue: deque[str | Exception] = deque()
        self.in_flight = 0
        self.max_in_flight = 0

    def enqueue(self, *replies: str | Exception) -> None:
        """Queue replies (or exceptions to raise), used in order before ``responder``."""
        self._queue.extend(replies)

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: Mapping[str, Any] | None = None,
        options: SamplingOptions = SamplingOptions(),
    ) -> Completion:
        import asyncio

        request = FakeRequest([dict(m) for m in messages], dict(schema) if schema else None, options)
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)  # 0: just let other requests of the same level start
            if self._queue:
                reply = self._queue.popleft()
            elif self.responder is not None:
                reply = self.responder(request)
            else:
                reply = json.dumps(minimal_instance(request.schema or {"type": "string"}))
        finally:
            self.in_flight -= 1
        if isinstance(reply, Exception):
            raise reply if isinstance(reply, BackendError) else BackendError(str(reply))
        prompt = sum(len(m["content"].split()) for m in request.messages)
        return Completion(text=reply, prompt_tokens=prompt, completion_tokens=len(reply.split()),
                          seconds=0.0, model=self.model)


def minimal_instance(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> Any:
    """The smallest value ``schema`` accepts: first enum value, minimum items, "x" strings."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return minimal_instance(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return minimal_instance(schema[key][0], defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: minimal_instance(properties[name], defs) for name in schema.get("required", properties)}
    if kind == "array":
        prefix = [minimal_instance(item, defs) for item in schema.get("prefixItems", [])]
        rest = schema.get("items", {})
        extra = max(0, schema.get("minItems", 0) - len(prefix))
        return prefix + ([minimal_instance(rest, defs) for _ in range(extra)] if isinstance(rest, dict) else [])
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None
