"""Building the parts of a solution tree: contradictions, ideas from cards or the model, questions, hazards.

Shared by the steps, so a contradiction, a card idea or a hazard looks the same wherever it was made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drain.schema import (
    Contradiction,
    Hazard,
    Idea,
    ParameterRef,
    PhysicalContradiction,
    PrincipleRef,
    Provenance,
    Question,
    SeparationRef,
)

if TYPE_CHECKING:
    from drain.grounding.grounder import Grounder
    from drain.grounding.hazards import SimilarHazard
    from triz.house.models import Card, PhysicalReading
    from triz.knowledge import TrizKnowledge

__all__ = [
    "card_idea",
    "contradiction",
    "hazards_of",
    "model_idea",
    "physical_from_library",
    "physical_from_model",
    "question",
]


def contradiction(knowledge: TrizKnowledge, improving: int, worsening: int, confidence: float, reason: str,
                  source: str) -> Contradiction:
    """A contradiction with its matrix cell; an empty cell halves the confidence and fails closed."""
    names = knowledge.parameter_names
    found = knowledge.matrix.lookup(improving, worsening)
    return Contradiction(
        improving=ParameterRef(id=improving, name=names[improving].name),
        worsening=ParameterRef(id=worsening, name=names[worsening].name),
        confidence=round(max(0.0, min(1.0, confidence * (1.0 if found.principles else 0.5))), 2),
        reason=reason, source=source,  # type: ignore[arg-type]
        principles=[PrincipleRef(id=p, name=knowledge.principle_names[p].name) for p in found.principles],
        empty_cell_reason=found.reason,
    )


def _provenance(c: Contradiction, principle: int) -> Provenance:
    cell = [p.id for p in c.principles]
    i, w = c.improving.id, c.worsening.id
    position = cell.index(principle) + 1 if principle in cell else 0
    return Provenance(improving=i, worsening=w, cell=f"{i}x{w}", principle=principle, position=position)


def card_idea(knowledge: TrizKnowledge, card: Card, c: Contradiction, family: str | None) -> Idea:
    """An idea from a fix card, traced to the card's principle that stands first in the cell."""
    cell = [p.id for p in c.principles]
    inside = [p for p in card.principles if p.id in cell]
    chosen = min(inside, key=lambda p: cell.index(p.id)) if inside else card.principles[0]
    return Idea(
        principle=PrincipleRef(id=chosen.id, name=knowledge.principle_names[chosen.id].name),
        idea=card.what, how=chosen.how, cost=card.band, diy=card.diy, hazards=list(card.hazards), source="card",
        provenance=_provenance(c, chosen.id), card=card.id, family=family, steps=list(card.steps),
        materials=list(card.materials), tools=list(card.tools), cost_usd=card.cost_usd, time=card.time,
        permit=card.permit, renter_ok=card.renter_ok, reversible=card.reversible, call_pro=card.call_pro,
    )


def model_idea(knowledge: TrizKnowledge, grounder: Grounder | None, c: Contradiction, principle: int, text: str,
               cost: str, diy: str) -> Idea:
    """An idea the model wrote; the hazard rules (and, grounded, the similar situations) read it."""
    categories = [h.category for h in knowledge.hazards.check(text, actions=True)]
    if grounder is not None:
        categories += [h.category for h in grounder.hazards(text) if h.category not in categories]
    rules = knowledge.hazards.rules
    if any(rules[name].severity == "stop" for name in categories):
        diy = "pro"  # a fix that touches a stop hazard is never a DIY job, whatever the model said
    return Idea(
        principle=PrincipleRef(id=principle, name=knowledge.principle_names[principle].name),
        idea=text, how=knowledge.principles[principle].summary, cost=cost, diy=diy,  # type: ignore[arg-type]
        hazards=categories, source="model", provenance=_provenance(c, principle),
    )


def question(knowledge: TrizKnowledge, c: Contradiction, principle: int) -> Question:
    """A principle of the cell no card applies here, as a question to think about (its first sub-principle).

    >>> import triz
    >>> k = triz.load()
    >>> q = question(k, contradiction(k, 30, 32, 0.9, "", "library"), 24)
    >>> q.question.startswith("Could you")
    True
    """
    details = knowledge.principles[principle]
    sub = details.sub_principles[0].rstrip(". ")
    asked = f"Could you {sub[0].lower()}{sub[1:]}?"
    return Question(principle=PrincipleRef(id=principle, name=details.name), question=asked,
                    provenance=_provenance(c, principle))


def _separations(knowledge: TrizKnowledge, parameter: int) -> list[SeparationRef]:
    names = knowledge.principle_names
    return [SeparationRef(name=o.name, question=o.question,
                          principles=[PrincipleRef(id=p, name=names[p].name) for p in o.principles[:4]])
            for o in knowledge.separate(parameter)]


def physical_from_library(knowledge: TrizKnowledge, reading: PhysicalReading) -> PhysicalContradiction:
    """A family's physical contradiction, with its resolving separation first and the others after."""
    separations = _separations(knowledge, reading.parameter)
    separations.sort(key=lambda s: s.name != reading.separation)
    if separations and separations[0].name == reading.separation:
        separations[0] = separations[0].model_copy(update={"how": reading.how})
    return PhysicalContradiction(
        parameter=ParameterRef(id=reading.parameter, name=knowledge.parameter_names[reading.parameter].name),
        high_because=reading.high, low_because=reading.low, separations=separations,
        property=reading.property, source="library",
    )


def physical_from_model(knowledge: TrizKnowledge, parameter: int, high: str, low: str) -> PhysicalContradiction:
    return PhysicalContradiction(
        parameter=ParameterRef(id=parameter, name=knowledge.parameter_names[parameter].name),
        high_because=high, low_because=low, separations=_separations(knowledge, parameter),
    )


def hazards_of(knowledge: TrizKnowledge, grounder: Grounder | None, text: str,
               similar: list[SimilarHazard] | None = None) -> list[Hazard]:
    """The hazards of a text: every rule that fires, then every similar known situation; stop first.

    ``similar``: the semantic matches when they were already computed (the problem's grounding).
    """
    found = [Hazard(**match.model_dump()) for match in knowledge.check_hazards(text)]
    if grounder is not None:
        similar = grounder.hazards(text) if similar is None else similar
        rules = knowledge.hazards.rules
        have = {h.category for h in found}
        for match in similar:
            if match.category in have:
                continue
            rule = rules[match.category]
            found.append(Hazard(category=match.category, severity=rule.severity, message=rule.message,
                                do_now=list(rule.do_now), professional=rule.professional, source="similar",
                                similar_to=match.similar_to, score=match.score))
            have.add(match.category)
    order = list(knowledge.hazards.rules)
    found.sort(key=lambda h: (h.severity != "stop", order.index(h.category)))
    return found
