"""The one small contract every model backend keeps.

A backend takes chat messages, an optional JSON schema and sampling options, and returns the reply text
with its token usage and timing. It says what it can do through :class:`Capabilities` flags instead
of the planner asking "which backend are you?".

Cancelling the task that awaits :meth:`Backend.complete` stops the model's work on that request (the
embedded model stops computing at its next token, an HTTP request is closed), so a timed-out or
abandoned solve frees its slot for the next one.

>>> options = SamplingOptions(temperature=0.0, seed=7)
>>> options.greedy
True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ["Backend", "Capabilities", "Completion", "Message", "SamplingOptions"]

Message = Mapping[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass(frozen=True)
class SamplingOptions:
    """How to sample: temperature 0 is greedy; a seed makes temperature > 0 repeatable."""

    temperature: float = 0.0
    seed: int | None = 0
    max_tokens: int = 256
    top_p: float = 1.0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the planner adapts to these flags (and reads every one of them).

    Every backend must honour a JSON schema (constrained decoding): the planner always sends one.
    """

    parallel_slots: int = 1  # requests it serves at once; the planner sends at most this many
    writes_ideas: bool = False  # a model large enough to write ideas of its own beside the library's cards


@dataclass(frozen=True)
class Completion:
    """A reply: its text, token usage, seconds spent in the model, and what produced it."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    model: str = ""
    cached_tokens: int = 0


class Backend(ABC):
    """Base class of model backends. Use as ``async with backend: ...`` or call :meth:`aclose`."""

    name: ClassVar[str] = "backend"
    capabilities: Capabilities = Capabilities()
    model: str = ""
    adapter: str | None = None

    @abstractmethod
    async def complete(
        self,
        messages: Sequence[Message],
        *,
        schema: Mapping[str, Any] | None = None,
        options: SamplingOptions = SamplingOptions(),
    ) -> Completion:
        """Answer ``messages``; with ``schema``, the reply is JSON that the schema allows."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend holds (threads, connections, the model)."""

    async def warm_up(self) -> float:
        """Get ready to answer (load the model, check the server) before the first request; returns the
        seconds it took. A server calls it before it accepts solves, so that the first one does not wait."""
        return 0.0

    async def start_solve(self) -> None:  # noqa: B027 - optional hook
        """Called by the planner before each solve: a backend whose answers depend on earlier requests
        (a model's prompt cache) resets that state here, so that the same solve gives the same tree."""

    async def __aenter__(self) -> Backend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def describe(self) -> dict[str, Any]:
        """What to record about this backend with every run."""
        return {"backend": self.name, "model": self.model, "adapter": self.adapter}
