"""Resolve: for one contradiction, the model chooses fix cards by id among those whose principles stand in
the contradiction's matrix cell (ranked by :mod:`drain.grounding.cards`); a model that may write (a large
one, by the backend's declared capability) may add up to two ideas of its own for principles of the cell.

The principles of the cell that no chosen idea applies become questions to think about (their first
sub-principle), never an unrelated example. A chosen card that creates a new problem (its ``creates``)
gives the next level: the follow-up, its contradiction and the cards that answer it.

>>> from drain.prompts import PromptLibrary
>>> model = reply_model(("extend-downspouts", "regrade-soil-away"), 2, ())
>>> model.model_validate_json('{"cards": ["regrade-soil-away"]}').cards
['regrade-soil-away']
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator

from drain.grounding.cards import CardCandidate
from drain.prompts import PromptLibrary
from drain.schema import Contradiction, Idea, Node
from drain.steps import tree as build_tree
from drain.steps.base import Reply, Request, choice_of, text
from drain.steps.context import SolveContext, Task, mark_partial
from triz.knowledge import TrizKnowledge

__all__ = ["OFFER_WITHIN", "apply", "build", "close_to_best", "fallback", "offered_cards", "reply_model", "request"]

NAME = "resolve"
MAX_TOKENS = 16  # per card id chosen
IDEA_TOKENS = 48  # per idea the model writes
# The model chooses only among cards scored within this share of the best: on the dev cases its choice
# among all six lowered fix hit@5 below the ranking's own order (bench/RESULTS.md, grounded solving).
OFFER_WITHIN = 0.85


@lru_cache(maxsize=1024)
def reply_model(ids: tuple[str, ...], most: int, principles: tuple[int, ...]) -> type[Reply]:
    """The reply class: up to ``most`` different card ids of ``ids``; with ``principles``, also ideas."""
    Card = choice_of(list(ids)) if ids else str

    def different(cls: type, cards: list[str]) -> list[str]:
        # A small model often names its first choice again; the repeat is read once (the best-ranked
        # cards fill the places left). Refusing it cost a re-ask that, measured, repeated it anyway.
        return list(dict.fromkeys(cards))

    if not principles:
        class ResolveReply(Reply):
            cards: list[Card] = Field(min_length=1, max_length=most)  # type: ignore[valid-type]
            _different = field_validator("cards")(classmethod(different))

        return ResolveReply

    class IdeaReply(Reply):
        principle: choice_of(list(principles))  # type: ignore[valid-type]
        idea: text(12, 110)
        cost: Literal["$", "$$", "$$$"]
        diy: Literal["easy", "moderate", "pro"]

    class WritingReply(Reply):
        cards: list[Card] = Field(default_factory=list, max_length=most)  # type: ignore[valid-type]
        ideas: list[IdeaReply] = Field(default_factory=list, max_length=2)
        _different = field_validator("cards")(classmethod(different))

    return WritingReply


def build(prompts: PromptLibrary, knowledge: TrizKnowledge, problem: str, c: Contradiction,
          offered: Sequence[CardCandidate], most: int, writes: bool = False) -> Request:
    """The request that offers ``offered`` for contradiction ``c`` of ``problem``."""
    names = knowledge.parameter_names
    views = [{"id": o.card.id, "what": o.card.what, "cost": o.card.band, "diy": o.card.diy, "principle": o.principle}
             for o in offered]
    principles = tuple(p.id for p in c.principles) if writes else ()
    model = reply_model(tuple(o.card.id for o in offered), max(1, min(most, len(offered))), principles)
    messages = prompts.render(NAME, problem=problem, improving=names[c.improving.id].name.lower(),
                              worsening=names[c.worsening.id].name.lower(), cards=views, writes=writes,
                              principles=[{"id": p.id, "name": p.name} for p in c.principles])
    tokens = MAX_TOKENS * max(1, min(most, len(offered))) + (2 * IDEA_TOKENS if writes else 0) + 12
    return Request(NAME, messages, model, tokens)


def offered_cards(context: SolveContext, node: Node, c: Contradiction) -> list[CardCandidate]:
    """The cards offered for ``c``: the earlier contradictions' best cards are left to them."""
    grounding = context.grounding(node)
    if grounding is None or context.grounder is None:
        return []
    s, taken = context.settings, []
    cause = context.causes.get(id(node))
    stop = [h.category for h in node.hazards if h.severity == "stop"]
    for earlier in node.contradictions:
        ranked = context.grounder.cards(grounding, earlier.improving.id, earlier.worsening.id,
                                        context.tree.constraints, cause=cause, k=s.candidates, exclude=taken,
                                        stop=stop)
        if earlier is c:
            return ranked
        taken += [o.card.id for o in ranked[: s.principles]]
    return []


def close_to_best(ranked: Sequence[CardCandidate], within: float | None = None) -> list[CardCandidate]:
    """The cards scored at least ``within`` (default :data:`OFFER_WITHIN`) of the best: the model's choice.

    >>> from types import SimpleNamespace as S
    >>> [c.score for c in close_to_best([S(score=0.72), S(score=0.67), S(score=0.58)])]
    [0.72, 0.67]
    """
    share = OFFER_WITHIN if within is None else within
    return [o for o in ranked if o.score >= share * ranked[0].score]


def request(context: SolveContext, task: Task) -> Request | None:
    c: Contradiction = task.data["contradiction"]
    ranked = offered_cards(context, task.node, c)
    task.data["offered"] = ranked
    most = context.settings.principles
    if context.writes_ideas:
        return build(context.prompts, context.knowledge, task.node.problem, c, ranked, most, writes=True)
    offered = close_to_best(ranked)
    if len(offered) <= most:
        return None  # the ranking is clear: its best cards are shown, nothing to choose
    return build(context.prompts, context.knowledge, task.node.problem, c, offered, most)


def apply(context: SolveContext, task: Task, reply: Reply | None) -> list[Task]:
    node, c = task.node, task.data["contradiction"]
    offered: list[CardCandidate] = task.data["offered"]
    by_id = {o.card.id: o for o in offered}
    chosen = [by_id[i] for i in getattr(reply, "cards", []) if i in by_id]
    elsewhere = {idea.card for other in node.contradictions if other is not c for idea in other.ideas if idea.card}
    order = [*chosen, *(o for o in offered if o not in chosen)]
    for candidate in order:
        if len(c.ideas) >= context.settings.principles:
            break
        if candidate.card.id not in elsewhere:
            c.ideas.append(build_tree.card_idea(context.knowledge, candidate.card, c, candidate.family))
    for written in getattr(reply, "ideas", []):
        c.ideas.append(build_tree.model_idea(context.knowledge, context.grounder, c, written.principle,
                                             written.idea, written.cost, written.diy))
    applied = {idea.principle.id for idea in c.ideas}
    c.questions = [build_tree.question(context.knowledge, c, p.id)
                   for p in c.principles[: context.settings.principles] if p.id not in applied]
    return _deeper(context, node, c.ideas)


def _deeper(context: SolveContext, node: Node, ideas: list[Idea]) -> list[Task]:
    """Follow-ups: the new problems the first chosen ideas create (from their cards, else from the model)."""
    s = context.settings
    if node.depth >= s.depth or s.deepen < 1:
        return []
    tasks: list[Task] = []
    library = context.grounder.library if context.grounder is not None else None
    for idea in ideas:
        if len(tasks) >= s.deepen:
            break
        card = library.cards.get(idea.card) if library is not None and idea.card else None
        if card is not None and card.creates:
            followup = card.creates[0]
            child = Node(problem=followup.problem, depth=node.depth + 1)
            idea.followup = child
            tasks.append(Task("followup", child, {"followup": followup}))
        elif idea.source == "model":
            tasks.append(Task("deepen", node, {"idea": idea}))
    return tasks


def fallback(context: SolveContext, task: Task, error: str) -> list[Task]:
    c = task.data["contradiction"]
    mark_partial(task.node, f"resolve {c.improving.id}x{c.worsening.id}: {error}; the best-ranked cards stand in")
    return apply(context, task, None)
