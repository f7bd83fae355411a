"""Homeowner words -> TRIZ parameters: each phrase's expected parameter is among the top 3 candidates."""

from __future__ import annotations

import pytest

import triz

PHRASES = [
    ("my basement leaks when it rains", 30),
    ("water coming into the basement", 30),
    ("damp walls in the bedroom", 30),
    ("musty smell in the closet", 30),
    ("black mould on the bathroom ceiling", 30),
    ("ice dams on the roof every winter", 30),
    ("termites in the porch", 30),
    ("mice in the garage", 30),
    ("traffic noise from the street", 30),
    ("drafty windows, can't replace them", 22),
    ("high heating bill", 22),
    ("heat escaping through the attic", 22),
    ("cold air coming in under the door", 22),
    ("noisy furnace", 31),
    ("sewer smell from the drain", 31),
    ("condensation on the windows", 31),
    ("pipes banging when the tap shuts", 31),
    ("leaking basement on budget", 32),
    ("need a cheap fix", 32),
    ("can't afford a contractor", 32),
    ("dripping faucet wasting water", 23),
    ("toilet keeps running", 23),
    ("takes forever to heat the water", 25),
    ("need a quick fix before guests arrive", 25),
    ("I rent so I can't drill holes", 35),
    ("landlord won't allow changes", 35),
    ("temporary solution until we move out", 35),
    ("hard to open windows for my elderly mother", 33),
    ("hard to reach the shelves", 33),
    ("stairs are hard for my elderly mom", 33),
    ("the dishwasher keeps breaking", 27),
    ("sump pump failed during the storm", 27),
    ("cracks in the foundation wall", 14),
    ("sagging shelf", 14),
    ("rust on the railing", 13),
    ("crumbling mortar between bricks", 13),
    ("cluttered garage with no storage", 8),
    ("tiny kitchen with no counter space", 6),
    ("dark hallway with no window", 18),
    ("bedroom is too hot in summer", 17),
    ("pipes freeze in winter", 17),
    ("low water pressure in the shower", 11),
    ("slow drain in the bathroom sink", 9),
    ("can't find where the leak is coming from", 37),
    ("hidden mold behind the drywall", 37),
    ("forget to turn off the sprinklers", 38),
    ("want the lights on a timer", 38),
    ("ugly wall heater", 12),
    ("floor is uneven", 12),
    ("too many wires and gadgets, complicated", 36),
    ("hard to repair the old boiler, no parts", 34),
    ("heavy garage door", 2),
    ("deck paint wears off in a year", 16),
]


@pytest.mark.parametrize(("text", "expected"), PHRASES)
def test_expected_parameter_in_top_3(knowledge: triz.TrizKnowledge, text: str, expected: int) -> None:
    top = [c.id for c in knowledge.candidates(text, k=3)]
    assert expected in top, f"{text!r}: expected {expected}, got {top}"


def test_there_are_at_least_40_phrases() -> None:
    assert len(PHRASES) >= 40


@pytest.mark.parametrize(
    "variant",
    ["LEAKING BASEMENT", "leaky basement!", "Basement leaks...", "basement, leaking", "basement's leaking"],
)
def test_case_plural_and_punctuation_tolerant(knowledge: triz.TrizKnowledge, variant: str) -> None:
    assert knowledge.candidates(variant, k=1)[0].id == 30


def test_matched_words_are_reported(knowledge: triz.TrizKnowledge) -> None:
    top = knowledge.candidates("drafty windows", k=1)[0]
    assert top.id == 22 and "draft" in top.matched
    assert top.score > 0


def test_alternative_published_names_match(knowledge: triz.TrizKnowledge) -> None:
    assert knowledge.candidates("repairability", k=1)[0].id == 34
    assert knowledge.candidates("waste of energy", k=1)[0].id == 22
    assert knowledge.candidates("complexity of product", k=1)[0].id == 36


def test_nothing_matches_nonsense(knowledge: triz.TrizKnowledge) -> None:
    assert knowledge.candidates("zxqv plorb", k=3) == []
    assert knowledge.candidates("   ", k=3) == []


def test_constraints_found(knowledge: triz.TrizKnowledge) -> None:
    names = [c.name for c in knowledge.lexicon.constraints("cheap DIY fix, I'm renting and need it quick")]
    assert {"budget", "skill", "renting", "time"} <= set(names)
    budget = next(c for c in knowledge.lexicon.constraints("on a budget") if c.name == "budget")
    assert budget.parameters[0] == 32
