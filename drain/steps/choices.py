"""Which parameters the lexicon offers, split by role: for the ungrounded planner and the deepen step.

Constraints the homeowner names (budget, renting, time ...) become the worsening side; what the
problem is about becomes the improving side. The planner and the training-data builder both call
these functions, so the model is trained on exactly the lists it sees at inference.

>>> import triz
>>> improving, worsening, _ = offer_choices(triz.load(), "leaking basement on budget")
>>> improving[0].id, worsening[0].id
(30, 32)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triz.knowledge import TrizKnowledge

__all__ = [
    "DEEPEN_IMPROVING",
    "DEEPEN_WORSENING",
    "DEFAULT_IMPROVING",
    "DEFAULT_WORSENING",
    "Choice",
    "offer_choices",
    "offer_deepen_choices",
]

@dataclass(frozen=True)
class Choice:
    """A parameter offered to the model: id, name and the homeowner's words that pointed to it."""

    id: int
    name: str
    hint: str = ""


# Always offered after the lexicon's best few: the parameters house problems use most (measured on the
# training annotations: with these, both parameters of a reference pair are offered about 70% of the time,
# against about 40% with the lexicon's candidates alone).
DEFAULT_IMPROVING = (30, 33, 31, 37, 27, 13, 22, 17)
DEFAULT_WORSENING = (32, 36, 33, 25, 35, 27, 34, 37)
LEXICON_LEAD = 3  # the lexicon's top improving candidates go first
# What fixes usually trade: offered for the new contradiction a fix creates.
DEEPEN_IMPROVING = (27, 30, 33, 22, 34, 17)
DEEPEN_WORSENING = (36, 32, 20, 25, 33, 27)


def offer_choices(knowledge: TrizKnowledge, text: str, context: str = "",
                  k: int = 8) -> tuple[list[Choice], list[Choice], dict[int, float]]:
    """Improving and worsening parameters to offer for ``text``, and each one's lexical support (0..1).

    Improving: the lexicon's best few, then the usual house parameters, then the rest of the lexicon's.
    Worsening: the constraints the text names (budget -> 32 ...), then the usual trade-offs.
    """
    ranked = knowledge.candidates(text, k=12)
    if context:
        seen = {c.id for c in ranked}
        ranked += [c for c in knowledge.candidates(context, k=8) if c.id not in seen]
    top = max((c.score for c in ranked), default=1.0) or 1.0
    support = {c.id: round(c.score / top, 3) for c in ranked}
    hints = {c.id: ", ".join(c.matched[:3]) for c in ranked}
    constrained: list[int] = []
    for constraint in knowledge.lexicon.constraints(f"{text} {context}"):
        constrained += [p for p in constraint.parameters if p not in constrained]
    lexical = [c.id for c in ranked if c.id not in constrained]
    improving = list(dict.fromkeys([*lexical[:LEXICON_LEAD], *DEFAULT_IMPROVING, *lexical]))
    worsening = list(dict.fromkeys([*constrained, *DEFAULT_WORSENING, *(c.id for c in ranked)]))
    names = knowledge.parameter_names

    def as_choices(ids: Sequence[int]) -> list[Choice]:
        return [Choice(i, names[i].name, hints.get(i, "")) for i in ids]

    return as_choices(improving[:k]), as_choices(worsening[:k]), support


def offer_deepen_choices(knowledge: TrizKnowledge, fix: str, k: int = 6) -> tuple[list[Choice], list[Choice]]:
    """Parameters for the new contradiction a fix creates: what the fix is about, then the usual trade-offs."""
    found = [c.id for c in knowledge.candidates(fix, k=2)]
    improving = list(dict.fromkeys([*found, *DEEPEN_IMPROVING]))[:k]
    worsening = list(DEEPEN_WORSENING)[:k]
    names = knowledge.parameter_names
    return ([Choice(i, names[i].name) for i in improving], [Choice(w, names[w].name) for w in worsening])
