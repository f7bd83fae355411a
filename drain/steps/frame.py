"""Frame: the problem restated in one plain sentence, its ideal final result, and the constraints it names.

When the problem matches a house-library family with confidence, the family's own ideal final result (its
``ideal``, written for that kind of problem) stands instead of the model's sentence, which a small model
often fills with the problem itself ("leaking basement on budget") or with a second wish.

>>> import triz
>>> from drain.prompts import PromptLibrary
>>> request = build(PromptLibrary(), "leaking basement on budget")
>>> sorted(request.schema["properties"])
['budget', 'ideal_final_result', 'restated', 'skill', 'tenure', 'time']
"""

from __future__ import annotations

from typing import Literal

from drain.prompts import PromptLibrary
from drain.steps.base import Reply, Request, text
from drain.steps.context import SolveContext, Task, mark_partial

__all__ = ["FrameReply", "apply", "build", "fallback", "library_ideal", "request"]

NAME = "frame"
MAX_TOKENS = 160


class FrameReply(Reply):
    restated: text(3, 140)
    ideal_final_result: text(3, 140)
    budget: Literal["tight", "normal", "unknown"]
    skill: Literal["diy", "pro", "unknown"]
    time: Literal["urgent", "normal", "unknown"]
    tenure: Literal["own", "rent", "unknown"]


def build(prompts: PromptLibrary, problem: str) -> Request:
    """The frame request for a problem text."""
    return Request(NAME, prompts.render(NAME, problem=problem), FrameReply, MAX_TOKENS)


def request(context: SolveContext, task: Task) -> Request:
    return build(context.prompts, task.node.problem)


def apply(context: SolveContext, task: Task, reply: FrameReply) -> list[Task]:
    tree = context.tree  # the frame is always of the whole problem
    tree.restated = reply.restated
    tree.ideal_final_result = library_ideal(context) or reply.ideal_final_result
    found = tree.constraints  # the lexicon's findings stand; the model fills what it left unknown
    for name in ("budget", "skill", "time", "tenure"):
        if getattr(found, name) == "unknown":
            setattr(found, name, getattr(reply, name))
    return []


def fallback(context: SolveContext, task: Task, error: str) -> list[Task]:
    mark_partial(task.node, f"frame: {error}")
    context.tree.ideal_final_result = library_ideal(context) or context.tree.ideal_final_result
    return []


def library_ideal(context: SolveContext) -> str | None:
    """The confidently matched family's ideal final result (the homeowner's chosen family first), if any."""
    grounding = context.grounding(context.tree)
    if grounding is None or context.grounder is None:
        return None
    if context.family is not None:
        return context.grounder.library.family(context.family).ideal
    match = grounding.family
    return match.family.ideal if match is not None else None
