"""Contradict: the model chooses the problem's technical contradictions among candidate pairs, by their ids.

The candidates come from the house library (the matched families' usual contradictions, the nearest
labelled cases) and the lexicon (see :mod:`drain.grounding.pairs`); ungrounded, from the lexicon alone.
Each candidate is offered as ``IxW`` with what improves, what worsens and why, and the reply's schema
admits only those ids. The matched family's physical contradiction, if it has one, comes along.

>>> from drain.prompts import PromptLibrary
>>> from drain.grounding.pairs import PairCandidate
>>> import triz
>>> offered = [PairCandidate(30, 32, 1.0, "a dig-and-seal job costs a lot", ("family",)),
...            PairCandidate(30, 25, 0.5, "a real fix takes days", ("family",))]
>>> request = build(PromptLibrary(), triz.load(), "leaking basement on budget", offered, most=2)
>>> request.schema["properties"]["pairs"]["items"]["enum"]
['30x32', '30x25']
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from pydantic import Field, field_validator

from drain.grounding.pairs import PairCandidate
from drain.prompts import PromptLibrary
from drain.schema import Node
from drain.steps import tree as build_tree
from drain.steps.base import Reply, Request, choice_of
from drain.steps.context import SolveContext, Task, mark_partial
from triz.knowledge import TrizKnowledge

__all__ = ["apply", "build", "candidates", "fallback", "reply_model", "request"]

NAME = "contradict"
MAX_TOKENS = 40


@lru_cache(maxsize=512)
def reply_model(keys: tuple[str, ...], most: int) -> type[Reply]:
    """The reply class for one offer: at most ``most`` different pair ids, each one of ``keys``."""

    class ContradictReply(Reply):
        pairs: list[choice_of(list(keys))] = Field(min_length=1, max_length=most)  # type: ignore[valid-type]

        @field_validator("pairs")
        @classmethod
        def _different(cls, pairs: list[str]) -> list[str]:
            return list(dict.fromkeys(pairs))  # a repeat adds nothing: read it once (a re-ask only repeated it)

    return ContradictReply


def build(prompts: PromptLibrary, knowledge: TrizKnowledge, problem: str, offered: Sequence[PairCandidate],
          most: int) -> Request:
    """The request that offers ``offered`` for ``problem``."""
    names = knowledge.parameter_names
    views = [{"key": c.key, "improving": names[c.improving].name.lower(), "worsening": names[c.worsening].name.lower(),
              "why": c.why} for c in offered]
    model = reply_model(tuple(c.key for c in offered), max(1, min(most, len(offered))))
    return Request(NAME, prompts.render(NAME, problem=problem, pairs=views), model, MAX_TOKENS)


def _lexicon_pairs(knowledge: TrizKnowledge, text: str, context: str, k: int) -> list[PairCandidate]:
    from drain.steps.choices import offer_choices

    improving, worsening, support = offer_choices(knowledge, text, context, 4)
    found = []
    for a, up in enumerate(improving[:3]):
        for b, down in enumerate(worsening[:3]):
            if up.id != down.id and knowledge.matrix.principles_of(up.id, down.id):
                score = (support.get(up.id, 0.0) + support.get(down.id, 0.0)) / 2 + 0.1 * (6 - a - b)
                found.append(PairCandidate(up.id, down.id, round(score, 4),
                                           "the homeowner's words point to these two parameters", ("lexicon",)))
    found.sort(key=lambda c: -c.score)
    return found[:k]


def candidates(context: SolveContext, node: Node) -> list[PairCandidate]:
    """The pairs offered for a node: grounded in the library, or from the lexicon alone."""
    grounding = context.grounding(node)
    k = context.settings.candidates
    if grounding is None:
        parent = "" if node is context.tree else context.tree.problem
        return _lexicon_pairs(context.knowledge, node.problem, parent, k)
    return context.grounder.pairs(grounding, k=k) if context.grounder else []


def _most(context: SolveContext, node: Node) -> int:
    s = context.settings
    return s.contradictions if node is context.tree else s.child_contradictions


def request(context: SolveContext, task: Task) -> Request | None:
    offered = candidates(context, task.node)
    task.data["offered"] = offered
    if len(offered) <= 1:
        return None  # nothing to choose
    return build(context.prompts, context.knowledge, task.node.problem, offered, _most(context, task.node))


def apply(context: SolveContext, task: Task, reply: Reply | None) -> list[Task]:
    node, offered = task.node, task.data["offered"]
    by_key = {c.key: c for c in offered}
    chosen = [by_key[key] for key in (reply.pairs if reply is not None else [])]  # type: ignore[attr-defined]
    top = max((c.score for c in offered), default=1.0) or 1.0
    picked = [(c, 0.9 - 0.15 * rank, "model") for rank, c in enumerate(chosen)]
    for c in offered:  # fill up from the ranking
        if len(picked) >= _most(context, node):
            break
        if c not in chosen:
            origin = "lexicon" if c.sources == ("lexicon",) else "library"
            picked.append((c, 0.55 - 0.1 * len(picked), origin))
    for c, base, origin in picked[: _most(context, node)]:
        confidence = base * (0.6 + 0.4 * c.score / top)
        node.contradictions.append(build_tree.contradiction(context.knowledge, c.improving, c.worsening, confidence,
                                                            c.why, origin))
    node.contradictions.sort(key=lambda c: (not c.principles, -c.confidence))
    grounding = context.grounding(node)
    if grounding is not None and grounding.family is not None and not node.physical_contradictions:
        node.physical_contradictions += [build_tree.physical_from_library(context.knowledge, reading)
                                         for reading in grounding.family.family.physical]
    if not node.contradictions:
        node.notes.append("no contradiction with a non-empty matrix cell was found for this problem")
    if not context.settings.ideas:
        return []
    return [Task("resolve", node, {"contradiction": c}) for c in node.contradictions if c.principles]


def fallback(context: SolveContext, task: Task, error: str) -> list[Task]:
    mark_partial(task.node, f"contradict: {error}; the best-ranked candidates stand in")
    return apply(context, task, None)
