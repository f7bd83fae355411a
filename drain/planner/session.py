"""One solve's conversation with the model: bounded concurrency, memoised questions, a call budget,
validation with one re-ask, and the numbers (tokens, seconds) the result reports.

Cancelling the task that runs a solve cancels the backend requests in flight (the backends stop the
model's work) and releases every slot; nothing is left waiting.

>>> import asyncio
>>> from drain.backends.fake import FakeBackend
>>> from drain.steps.base import Request
>>> from drain.steps.baseline import BaselineReply
>>> fake = FakeBackend()
>>> fake.enqueue('{"improving": 99, "worsening": 2}', '{"improving": 30, "worsening": 32}')
>>> session = ModelSession(fake)
>>> call = Request("baseline", [{"role": "user", "content": "?"}], BaselineReply, 20)
>>> answer = asyncio.run(session.ask(call))
>>> answer.reply.improving, answer.attempts, session.counts.reasks
(30, 2, 1)

A reply that fails validation after the re-ask raises :class:`~drain.errors.ReplyValidationError`
carrying both attempts; the planner then lets the library's ranking stand in.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from drain.backends.base import Backend, Completion, SamplingOptions
from drain.errors import CallBudgetExhausted, ReplyValidationError, describe_validation_error
from drain.steps.base import Request
from drain.textutil import content_words

__all__ = ["Answer", "CallBudgetExhausted", "Counts", "Exchange", "ModelSession"]

REASK = "That reply was not valid: {error}. Reply again with corrected JSON only."


@dataclass
class Exchange:
    """One request and reply, as the store logs it (and as training export reads it)."""

    step: str
    messages: list[dict[str, str]]
    schema: dict[str, Any]
    reply: str
    valid: bool
    error: str | None
    attempt: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    started_at: float


@dataclass
class Answer:
    """A validated reply and the attempts it took (0: the same question was answered earlier in the solve)."""

    reply: Any
    attempts: int
    memo_hit: bool = False


@dataclass
class Counts:
    """What one solve's conversation cost; the planner copies it into the result's stats."""

    llm_calls: int = 0
    reasks: int = 0
    memo_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0


@dataclass
class _Busy:
    """Union of the intervals when at least one request is in the model."""

    active: int = 0
    since: float = 0.0
    total: float = 0.0

    def enter(self) -> None:
        if self.active == 0:
            self.since = time.perf_counter()
        self.active += 1

    def leave(self) -> None:
        self.active -= 1
        if self.active == 0:
            self.total += time.perf_counter() - self.since


@dataclass
class ModelSession:
    """Ask the model through a backend; shared by all steps of one solve."""

    backend: Backend
    options: SamplingOptions = field(default_factory=SamplingOptions)
    max_calls: int | None = None
    concurrency: int | None = None
    on_exchange: Callable[[Exchange], None] | None = None

    def __post_init__(self) -> None:
        slots = self.concurrency or self.backend.capabilities.parallel_slots
        self._gate = asyncio.Semaphore(max(1, slots))
        self._memo: dict[str, asyncio.Future[Answer]] = {}
        self._busy = _Busy()
        self.counts = Counts()

    @property
    def model_seconds(self) -> float:
        return self._busy.total

    def _key(self, call: Request) -> str:
        blob = json.dumps([call.step, call.messages, call.schema, call.max_tokens, self.options.__dict__],
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def ask(self, call: Request) -> Answer:
        """The validated reply to ``call``; the same question in one solve is asked once (its failure too:
        :class:`ReplyValidationError`, :class:`CallBudgetExhausted`)."""
        key = self._key(call)
        if key in self._memo:
            self.counts.memo_hits += 1
            answer = await asyncio.shield(self._memo[key])
            return Answer(answer.reply, 0, memo_hit=True)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._memo[key] = future
        try:
            answer = await self._ask_fresh(call)
        except asyncio.CancelledError:
            del self._memo[key]
            future.cancel()  # the solve is being cancelled: its waiting duplicates stop too
            raise
        except BaseException as err:
            del self._memo[key]
            future.set_exception(err)
            future.exception()  # mark retrieved: waiting duplicates re-raise it themselves
            raise
        future.set_result(answer)
        return answer

    async def _ask_fresh(self, call: Request) -> Answer:
        messages = list(call.messages)
        attempts: list[tuple[str, str]] = []
        for attempt in (1, 2):
            completion, started = await self._complete(call, messages)
            text = completion.text
            reply, error = _validate(call, text)
            self._log(call, messages, completion, started, error, attempt)
            if error is None:
                return Answer(reply, attempt)
            attempts.append((text, error))
            if attempt == 1:
                self.counts.reasks += 1
                messages = [*messages, {"role": "assistant", "content": text},
                            {"role": "user", "content": REASK.format(error=error)}]
        raise ReplyValidationError(call.step, attempts)

    async def _complete(self, call: Request, messages: list[dict[str, str]]) -> tuple[Completion, float]:
        if self.max_calls is not None and self.counts.llm_calls >= self.max_calls:
            raise CallBudgetExhausted(f"stopped at the call limit ({self.max_calls})")
        self.counts.llm_calls += 1
        options = SamplingOptions(
            temperature=self.options.temperature, seed=self.options.seed, top_p=self.options.top_p,
            max_tokens=min(call.max_tokens, self.options.max_tokens),
        )
        async with self._gate:
            self._busy.enter()
            started = time.time()
            try:
                completion = await self.backend.complete(messages, schema=call.schema, options=options)
            finally:
                self._busy.leave()
        self.counts.prompt_tokens += completion.prompt_tokens
        self.counts.completion_tokens += completion.completion_tokens
        self.counts.cached_tokens += completion.cached_tokens
        return completion, started

    def _log(self, call: Request, messages: list[dict[str, str]], completion: Completion, started: float,
             error: str | None, attempt: int) -> None:
        exchange = Exchange(
            step=call.step, messages=messages, schema=call.schema, reply=completion.text, valid=error is None,
            error=error,
            attempt=attempt, prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
            seconds=completion.seconds, started_at=started,
        )
        if self.on_exchange is not None:
            self.on_exchange(exchange)


def _validate(call: Request, text: str) -> tuple[BaseModel | None, str | None]:
    try:
        reply = call.reply_model.model_validate_json(text)
    except ValidationError as err:
        return None, describe_validation_error(err, default="reply")
    try:
        _check_not_echo(reply.model_dump(), call.messages[0]["content"])
    except ValueError as err:
        return None, str(err)
    return reply, None


def _check_not_echo(value: Any, instructions: str, where: str = "reply") -> None:
    """A small model under a schema tends to copy its instructions into the fields: refuse that."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_not_echo(item, instructions, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_not_echo(item, instructions, f"{where}.{index}")
    elif isinstance(value, str):
        words = content_words(value)
        if len(words) >= 4 and len(words & content_words(instructions)) >= 0.7 * len(words):
            raise ValueError(f"{where} repeats the instructions; write an answer about this problem instead")
