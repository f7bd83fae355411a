"""Hazard rules: the right category fires on dangerous texts, nothing fires on ordinary problems."""

from __future__ import annotations

import pytest

import triz

DANGEROUS = [
    ("I smell gas near the stove", "gas"),
    ("rotten egg smell in the kitchen", "gas"),
    ("outlet sparks when I plug in the vacuum", "electrical"),
    ("burning smell from the electrical panel", "electrical"),
    ("got a shock from the light switch", "electrical"),
    ("big crack in foundation wall getting wider", "structural"),
    ("sagging ceiling after a leak upstairs", "structural"),
    ("popcorn ceiling in a 1970s house, want to scrape it", "asbestos"),
    ("old vermiculite insulation in the attic", "asbestos"),
    ("peeling paint in 1950s house, toddler chews the sill", "lead"),
    ("co alarm going off at night", "carbon_monoxide"),
    ("headaches when the furnace runs", "carbon_monoxide"),
    ("black mold covering the whole basement wall", "mold_large_area"),
    ("need to clean gutters on a two storey house", "work_at_height"),
    ("climb on the roof to fix shingles", "work_at_height"),
    ("water heater relief valve leaking", "water_heater_pressure"),
    ("water heater tank rumbling and popping", "water_heater_pressure"),
    ("smoke coming from the dryer vent", "fire"),
    ("sewage backing up into the basement floor drain", "sewage_backup"),
]

ORDINARY = [
    "noisy furnace",
    "drafty windows",
    "leaking basement on budget",
    "high heating bill",
    "musty smell in closet",
    "mice in the garage",
    "cluttered garage, no storage",
    "dripping kitchen faucet",
    "bedroom too hot in summer",
    "squeaky floorboards in the hallway",
]


@pytest.mark.parametrize(("text", "category"), DANGEROUS)
def test_dangerous_text_triggers_its_category(knowledge: triz.TrizKnowledge, text: str, category: str) -> None:
    found = [h.category for h in knowledge.check_hazards(text)]
    assert category in found, f"{text!r} -> {found}"


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_problem_triggers_nothing(knowledge: triz.TrizKnowledge, text: str) -> None:
    assert knowledge.check_hazards(text) == []


def test_stop_hazards_come_first_and_say_what_to_do(knowledge: triz.TrizKnowledge) -> None:
    found = knowledge.check_hazards("old peeling paint and I smell gas")
    assert [h.severity for h in found] == sorted((h.severity for h in found), key=lambda s: s != "stop")
    gas = next(h for h in found if h.category == "gas")
    assert gas.severity == "stop"
    assert "licensed" in gas.message.lower() or "licensed" in gas.professional.lower()
    assert gas.do_now and gas.matched


def test_module_shortcut(knowledge: triz.TrizKnowledge) -> None:
    assert [h.category for h in triz.hazards_in("carbon monoxide alarm beeping")] == ["carbon_monoxide"]
