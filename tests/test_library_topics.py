"""Fresh homeowner problems (none is a library case) in topics the house library gained: each is matched to
its family, raises its hazard first where there is one, and gets that family's own fixes as ideas, on the
fake backend (the library's ranking alone)."""

from __future__ import annotations

import pytest

from drain.backends.fake import FakeBackend
from drain.planner import Planner, PlannerSettings

TOPICS = [
    # (problem, its family, the hazard raised first or None, cards of which at least one must be an idea)
    ("I want to move the gas dryer to the garage and hook it up myself", "gas-appliance-hookup", "gas",
     {"licensed-gas-fitter-hookup", "gas-range-move-reconnect", "gas-hookup-prep-checklist"}),
    ("there's an old oil tank in the basement we don't use anymore since we got a heat pump", "heating-oil-tank",
     "fuel_oil_tank", {"close-unused-oil-tank", "oil-tank-leak-walkaround"}),
    ("our old house only has two-prong outlets and my computer plug won't fit", "old-ungrounded-wiring", None,
     {"gfci-ungrounded-circuits-pro", "identify-old-wiring", "stop-cheater-adapters"}),
    ("we want to strip the paint off the stair railing in our 1920s house", "lead-paint-renovation", "lead",
     {"lead-low-dust-removal-methods", "lead-paint-chip-lab-test", "wet-scrape-lead-safe"}),
]


@pytest.fixture(scope="module")
def planner() -> Planner:
    return Planner(FakeBackend(), PlannerSettings(), log=False)  # type: ignore[arg-type]


@pytest.mark.parametrize(("problem", "family", "hazard", "cards"), TOPICS)
def test_a_new_topic_finds_its_family_hazard_and_fixes(planner: Planner, problem: str, family: str,
                                                       hazard: str | None, cards: set[str]) -> None:
    tree = planner.solve(problem)
    assert tree.families[0].id == family
    if hazard is not None:
        assert tree.hazards[0].category == hazard
    ideas = [idea.card for c in tree.contradictions for idea in c.ideas]
    assert cards & set(ideas[:6]), ideas
    matched = {m.id for m in tree.families}
    library = planner.grounder.library
    assert all(set(library.cards[i].families) & matched for i in ideas if i)  # nothing from an unmatched family
