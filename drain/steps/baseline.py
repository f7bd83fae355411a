"""The evaluation's plain baseline: the same model asked for two parameter ids, no lexicon, no matrix."""

from __future__ import annotations

from pydantic import Field

from drain.prompts import PromptLibrary
from drain.steps.base import Reply, Request

__all__ = ["BaselineReply", "build"]

NAME = "baseline"
MAX_TOKENS = 40


class BaselineReply(Reply):
    improving: int = Field(ge=1, le=39)
    worsening: int = Field(ge=1, le=39)


def build(prompts: PromptLibrary, problem: str) -> Request:
    return Request(NAME, prompts.render(NAME, problem=problem), BaselineReply, MAX_TOKENS)
