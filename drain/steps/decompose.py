"""Decompose: the model splits a problem the house library does not know into up to three parts.

Used only when no problem family matches with confidence (grounded solving takes the parts from the
family's likely causes, :mod:`drain.steps.parts`). Each part then gets its own contradiction.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, model_validator

from drain.prompts import PromptLibrary
from drain.schema import Node
from drain.steps import tree as build_tree
from drain.steps.base import Reply, Request, text
from drain.steps.context import SolveContext, Task, mark_partial
from drain.textutil import content_words
from triz.text import stems

__all__ = ["apply", "build", "fallback", "reply_model", "request"]

NAME = "decompose"
MAX_TOKENS = 120


@lru_cache(maxsize=256)
def reply_model(problem: str) -> type[Reply]:
    """Up to three different parts, none only repeating ``problem``."""
    whole = content_words(problem)

    class DecomposeReply(Reply):
        parts: list[text(3, 80)] = Field(max_length=3)  # type: ignore[valid-type]

        @model_validator(mode="after")
        def _distinct(self) -> DecomposeReply:
            seen = set()
            for part in self.parts:
                key = stems(part)
                if key in seen:
                    raise ValueError(f"part {part!r} is listed twice")
                if content_words(part) == whole:
                    raise ValueError(f"part {part!r} only repeats the problem")
                seen.add(key)
            return self

    return DecomposeReply


def build(prompts: PromptLibrary, problem: str) -> Request:
    return Request(NAME, prompts.render(NAME, problem=problem), reply_model(problem), MAX_TOKENS)


def request(context: SolveContext, task: Task) -> Request:
    return build(context.prompts, task.node.problem)


def apply(context: SolveContext, task: Task, reply: Reply) -> list[Task]:
    tree = context.tree
    tasks = []
    for part in reply.parts[: context.settings.subproblems]:  # type: ignore[attr-defined]
        child = Node(problem=part, depth=2, hazards=build_tree.hazards_of(context.knowledge, context.grounder, part))
        tree.subproblems.append(child)
        tasks.append(Task("contradict", child))
    return tasks


def fallback(context: SolveContext, task: Task, error: str) -> list[Task]:
    mark_partial(task.node, f"decompose: {error}")
    return []
