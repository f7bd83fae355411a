"""Reply models: for each planner step, the one pydantic class that is both the JSON schema sent to the
model and the validator of its reply. Per-call limits (the candidate ids a reply may use) are added to
the schema by the step and checked again after parsing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "BaselineReply",
    "ContradictReply",
    "ContradictionChoice",
    "DecomposeReply",
    "DeepenReply",
    "FrameReply",
    "IdeaReply",
    "PhysicalChoice",
    "ResolveReply",
]


def _text(low: int, high: int) -> type[str]:
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=low, max_length=high)]  # type: ignore[return-value]


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FrameReply(_Reply):
    restated: _text(3, 140)
    ideal_final_result: _text(3, 140)
    budget: Literal["tight", "normal", "unknown"]
    skill: Literal["diy", "pro", "unknown"]
    time: Literal["urgent", "normal", "unknown"]
    tenure: Literal["own", "rent", "unknown"]


class DecomposeReply(_Reply):
    parts: list[_text(3, 80)] = Field(max_length=3)


class ContradictionChoice(_Reply):
    improving: int = Field(ge=1, le=39)
    worsening: int = Field(ge=1, le=39)
    reason: _text(3, 100)


class PhysicalChoice(_Reply):
    parameter: int = Field(ge=1, le=39)
    high: _text(3, 80)
    low: _text(3, 80)


class ContradictReply(_Reply):
    contradictions: list[ContradictionChoice] = Field(min_length=1, max_length=3)
    physical: PhysicalChoice | None = None


class IdeaReply(_Reply):
    principle: int = Field(ge=1, le=40)
    idea: _text(12, 110)
    cost: Literal["$", "$$", "$$$"]
    diy: Literal["easy", "moderate", "pro"]


class ResolveReply(_Reply):
    ideas: list[IdeaReply] = Field(min_length=1, max_length=4)


class DeepenReply(_Reply):
    new_problem: _text(0, 100)
    improving: int = Field(ge=1, le=39)
    worsening: int = Field(ge=1, le=39)


class BaselineReply(_Reply):
    improving: int = Field(ge=1, le=39)
    worsening: int = Field(ge=1, le=39)
