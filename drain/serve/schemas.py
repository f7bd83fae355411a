"""The request bodies the API accepts; unknown fields are refused, so a typo is a 422 naming it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from drain.problem import MAX_PROBLEM_CHARS

__all__ = ["DeviceExchange", "DeviceRun", "FeedbackBatch", "FeedbackRequest", "SolveRequest", "Vote"]

RUN_ID = r"^[A-Za-z0-9_-]{4,64}$"
EVENT_ID = r"^[A-Za-z0-9_.:-]{8,100}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SolveRequest(_Body):
    """A problem to solve; ``depth``, ``max_calls`` and ``seed`` override the server's settings."""

    problem: str = Field(max_length=MAX_PROBLEM_CHARS * 2, description="The house problem, in the homeowner's words.",
                         examples=["leaking basement on budget"])
    depth: int | None = Field(None, ge=1, le=5, strict=True, description="Levels of problems: 1 = the problem alone.")
    max_calls: int | None = Field(None, ge=1, le=500, strict=True,
                                  description="Model calls for this solve, re-asks included.")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, strict=True, description="Sampling seed.")
    family: str | None = Field(None, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=60,
                               description="A house-library family id: the homeowner's answer to a result's "
                                           "`clarify` question.")


class FeedbackRequest(_Body):
    """A thumbs up or down on a run, or on one of its ideas (numbered as ``numbered_ideas()``)."""

    run: str = Field(pattern=RUN_ID, description="The run id (or a unique prefix of at least 4 characters).")
    idea: int | None = Field(None, ge=1, le=10_000, description="The idea's number; none rates the whole run.")
    rating: Literal["up", "down"]
    note: str | None = Field(None, max_length=1000)
    client_event_id: str | None = Field(None, pattern=EVENT_ID,
                                        description="The client's id for this vote; a repeat is stored once.")


class Vote(FeedbackRequest):
    """A vote collected offline; ``client_event_id`` makes syncing it again harmless."""

    client_event_id: str = Field(pattern=EVENT_ID)  # type: ignore[assignment]


class FeedbackBatch(_Body):
    """Votes queued on a phone while offline. Each is checked on its own: one bad vote drops only itself."""

    votes: list[Any] = Field(max_length=500, description="Each a Vote: {run, idea?, rating, note?, client_event_id}.")


class ChatMessage(_Body):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=20_000)


class DeviceExchange(_Body):
    """One model request and reply the phone made (the store's exchanges: what training reads)."""

    step: Literal["frame", "contradict", "resolve"]
    messages: list[ChatMessage] = Field(max_length=8)
    schema_: dict[str, Any] = Field(alias="schema")
    reply: str = Field(max_length=8000)
    valid: bool
    error: str | None = Field(None, max_length=2000)
    attempt: int = Field(ge=1, le=2)
    prompt_tokens: int = Field(0, ge=0)
    completion_tokens: int = Field(0, ge=0)
    seconds: float = Field(0.0, ge=0)
    started_at: float = Field(ge=0)


class DeviceRun(_Body):
    """A solve the phone made itself (offline, with the on-device engine), sent when the server is back so its
    votes have a run to belong to. ``id`` is the phone's own run id: sending it again changes nothing."""

    id: str = Field(pattern=r"^d-[A-Za-z0-9_-]{8,62}$", description="The phone's run id (d-...).")
    problem: str = Field(max_length=MAX_PROBLEM_CHARS * 2)
    tree: dict[str, Any] = Field(description="The solve JSON contract (schema_version 2) the phone made.")
    model: str | None = Field(None, max_length=200, description="The model file the phone ran.")
    exchanges: list[DeviceExchange] = Field(default_factory=list, max_length=100,
                                            description="The phone's model requests and replies, for training.")
