"""Follow-up: the new problem a chosen fix card creates (its ``creates``), with its contradiction and the
cards that answer it, one level deeper; and that level's own follow-up, while the depth allows. No model
call: the side effects and their answers are the library's.
"""

from __future__ import annotations

from drain.schema import Idea, Node
from drain.steps import tree as build_tree
from drain.steps.context import SolveContext, Task
from triz.house.models import Followup

__all__ = ["apply", "fallback", "request"]

NAME = "followup"


def request(context: SolveContext, task: Task) -> None:
    return None  # deterministic


def apply(context: SolveContext, task: Task, reply: None = None) -> list[Task]:
    node, followup = task.node, task.data["followup"]
    if context.grounder is None:  # follow-ups come from cards: there are none without the library
        return []
    library, knowledge = context.grounder.library, context.knowledge
    node.hazards = build_tree.hazards_of(knowledge, context.grounder, node.problem)
    c = build_tree.contradiction(knowledge, followup.improving, followup.worsening, 0.6,
                                 "a new problem the fix creates", "followup")
    node.contradictions.append(c)
    source = task.data.get("family")
    ideas: list[Idea] = [build_tree.card_idea(knowledge, library.cards[ident], c, source)
                         for ident in followup.cards[: context.settings.principles]]
    c.ideas = ideas
    if node.depth >= context.settings.depth:
        return []
    for idea in ideas:
        card = library.cards[idea.card] if idea.card else None
        if card is not None and card.creates:
            deeper: Followup = card.creates[0]
            child = Node(problem=deeper.problem, depth=node.depth + 1)
            idea.followup = child
            return [Task("followup", child, {"followup": deeper})]
    return []


def fallback(context: SolveContext, task: Task, error: str) -> list[Task]:
    return apply(context, task)
