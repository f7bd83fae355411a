"""Deepen: the model names the new problem an idea of its own creates, as a new contradiction.

Runs only where the house library has nothing: for ideas the model wrote (a card's follow-ups are the
library's, :mod:`drain.steps.followup`). Its parameters are offered as enums; ``""`` means none.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import model_validator

from drain.prompts import PromptLibrary
from drain.schema import Idea, Node
from drain.steps import tree as build_tree
from drain.steps.base import Reply, Request, choice_of, text
from drain.steps.choices import offer_deepen_choices
from drain.steps.context import SolveContext, Task, mark_partial
from triz.knowledge import TrizKnowledge

__all__ = ["apply", "build", "fallback", "reply_model", "request"]

NAME = "deepen"
MAX_TOKENS = 110


@lru_cache(maxsize=256)
def reply_model(improving: tuple[int, ...], worsening: tuple[int, ...]) -> type[Reply]:
    class DeepenReply(Reply):
        new_problem: text(0, 100)
        improving: choice_of(list(improving))  # type: ignore[valid-type]
        worsening: choice_of(list(worsening))  # type: ignore[valid-type]

        @model_validator(mode="after")
        def _differ(self) -> DeepenReply:
            if self.new_problem and self.improving == self.worsening:
                raise ValueError("improving and worsening must differ")
            return self

    return DeepenReply


def build(prompts: PromptLibrary, knowledge: TrizKnowledge, problem: str, fix: str, k: int = 7) -> Request:
    improving, worsening = offer_deepen_choices(knowledge, fix, k)
    model = reply_model(tuple(c.id for c in improving), tuple(c.id for c in worsening))
    messages = prompts.render(NAME, problem=problem, fix=fix, improving=improving, worsening=worsening)
    return Request(NAME, messages, model, MAX_TOKENS)


def request(context: SolveContext, task: Task) -> Request:
    idea: Idea = task.data["idea"]
    return build(context.prompts, context.knowledge, task.node.problem, idea.idea, context.settings.candidates + 1)


def apply(context: SolveContext, task: Task, reply: Reply) -> list[Task]:
    node, idea = task.node, task.data["idea"]
    if not reply.new_problem:  # type: ignore[attr-defined]
        node.notes.append(f"the fix {idea.idea!r} creates no new problem")
        return []
    problem = reply.new_problem  # type: ignore[attr-defined]
    child = Node(problem=problem, depth=node.depth + 1,
                 hazards=build_tree.hazards_of(context.knowledge, context.grounder, problem))
    c = build_tree.contradiction(context.knowledge, reply.improving, reply.worsening, 0.6,  # type: ignore[attr-defined]
                                 "a new problem the fix creates", "deepen")
    child.contradictions.append(c)
    idea.followup = child
    return [Task("resolve", child, {"contradiction": c})] if c.principles else []


def fallback(context: SolveContext, task: Task, error: str) -> list[Task]:
    mark_partial(task.node, f"deepen: {error}")
    return []
