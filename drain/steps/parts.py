"""Parts: the matched family's likely causes, as the quick checks that tell them apart and as parts of the
problem with their own fixes, and the new problem the first of them creates one level deeper (its
follow-up). No model call: decomposition comes from the library, not from free text.

When the causes lead to different fixes (their cards differ), the tree opens with the checks ("does the
water come through the wall or up at the floor joint?"), and the most likely causes become parts, each with
the family's contradiction that best fits its cards and those cards as ideas. When the two best families
are too close to call, the tree carries one clarifying question (``drain solve --ask`` asks it first).
With no confident family the model decomposes the problem instead (:mod:`drain.steps.decompose`).
"""

from __future__ import annotations

from drain.schema import Check, Clarify, ClarifyOption, Idea, Node
from drain.steps import tree as build_tree
from drain.steps.context import SolveContext, Task

__all__ = ["apply", "fallback", "request"]

NAME = "parts"


def request(context: SolveContext, task: Task) -> None:
    return None  # deterministic


def _shown(node: Node) -> list[str]:
    """The cards a node's contradictions show already (the parts run after them)."""
    return [idea.card for c in node.contradictions for idea in c.ideas if idea.card]


def apply(context: SolveContext, task: Task, reply: None = None) -> list[Task]:
    tree, s = context.tree, context.settings
    grounding = context.grounding(tree)
    if grounding is None or context.grounder is None or grounding.family is None:
        return [Task("decompose", tree)] if s.depth >= 2 and s.subproblems > 0 else []
    library = context.grounder.library
    if grounding.close_call and context.family is None and len(grounding.families) >= 2:
        first, second = grounding.families[0].family, grounding.families[1].family
        tree.clarify = Clarify(question=f"Which is closer to your problem: {first.name.lower()}, or "
                                        f"{second.name.lower()}?",
                               options=[ClarifyOption(family=f.id, name=f.name) for f in (first, second)])
    family = grounding.family.family
    cards = library.cards_of(family.id)
    fixes = {m.cause.id: frozenset(card.id for card in cards if m.cause.id in card.causes) for m in grounding.causes}
    different = {f for f in fixes.values() if f}
    if len(different) >= 2:
        tree.diagnosis = [Check(family=family.id, cause=m.cause.cause, check=m.cause.check) for m in grounding.causes]
    if s.depth < 2 or s.subproblems < 1 or not tree.diagnosis:
        return []
    taken, tasks = _shown(tree), []
    for match in [m for m in grounding.causes if fixes[m.cause.id]][: s.subproblems]:
        child = Node(problem=match.cause.cause, depth=2, check=match.cause.check,
                     hazards=build_tree.hazards_of(context.knowledge, context.grounder, match.cause.cause))
        context.causes[id(child)] = match.cause.id
        context.remember(child, grounding)
        mine = [library.cards[i] for i in sorted(fixes[match.cause.id])]
        pair = max(family.contradictions, key=lambda c: sum(
            bool(set(card.principle_ids) & set(context.knowledge.matrix.principles_of(c.improving, c.worsening)))
            for card in mine))
        contradiction = build_tree.contradiction(context.knowledge, pair.improving, pair.worsening, 0.6, pair.why,
                                                 "library")
        child.contradictions.append(contradiction)
        if s.ideas and contradiction.principles:
            ranked = context.grounder.cards(grounding, pair.improving, pair.worsening, tree.constraints,
                                            cause=match.cause.id, k=len(library.cards), exclude=taken,
                                            stop=[h.category for h in child.hazards if h.severity == "stop"])
            for o in [o for o in ranked if match.cause.id in o.card.causes][: s.principles]:
                contradiction.ideas.append(build_tree.card_idea(context.knowledge, o.card, contradiction, o.family))
                taken.append(o.card.id)
        tree.subproblems.append(child)
        tasks += _followups(context, child, contradiction.ideas)
    return tasks


def _followups(context: SolveContext, part: Node, ideas: list[Idea]) -> list[Task]:
    """The new problem the part's first fix that creates one brings, one level deeper (while the depth allows)."""
    if part.depth >= context.settings.depth or context.settings.deepen < 1 or context.grounder is None:
        return []
    for idea in ideas:
        card = context.grounder.library.cards.get(idea.card) if idea.card else None
        if card is not None and card.creates:
            idea.followup = Node(problem=card.creates[0].problem, depth=part.depth + 1)
            return [Task("followup", idea.followup, {"followup": card.creates[0]})]
    return []


def fallback(context: SolveContext, task: Task, error: str) -> list[Task]:
    return apply(context, task)
