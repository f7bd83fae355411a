"""Two ranking rules of grounded solving: cards only from families close to the best match, and candidate
contradictions ordered so each next one opens fixes the ones before it did not."""

from __future__ import annotations

import pytest

import triz
from drain.grounding import grounder as grounder_module
from drain.grounding.grounder import Grounder, shared_grounder
from drain.grounding.pairs import PairCandidate, _covering
from drain.schema import Constraints


@pytest.fixture(scope="module")
def grounder() -> Grounder:
    return shared_grounder(triz.load())


def _pair(i: int, w: int, score: float) -> PairCandidate:
    return PairCandidate(i, w, score, "", ("family",))


def test_a_pair_that_opens_new_fixes_goes_before_a_slightly_better_one_that_repeats_them() -> None:
    found = [_pair(30, 32, 3.0), _pair(30, 25, 2.95), _pair(39, 36, 2.9)]
    admits = {"30x32": {"a", "b"}, "30x25": {"a", "b"}, "39x36": {"c"}}
    relevance = {"a": 0.9, "b": 0.8, "c": 0.7}
    assert [c.key for c in _covering(found, admits, relevance, k=3)] == ["30x32", "39x36", "30x25"]
    # far apart in score, the better pair keeps its place whatever its cell opens
    found = [_pair(30, 32, 3.0), _pair(30, 25, 2.5), _pair(39, 36, 1.0)]
    assert [c.key for c in _covering(found, admits, relevance, k=2)] == ["30x32", "30x25"]


def test_cards_come_only_from_families_close_to_the_best_match(grounder: Grounder,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    grounding = grounder.ground("leaking basement on budget")
    top, *others = grounding.families
    far = [m.family.id for m in others if m.score < grounder_module.FAMILY_WITHIN * top.score]
    assert far, "the test needs a matched family far from the best one"

    def families_of(within: float) -> set[str]:
        monkeypatch.setattr(grounder_module, "FAMILY_WITHIN", within)
        found = set()
        for c in top.family.contradictions:
            found |= {o.family for o in grounder.cards(grounding, c.improving, c.worsening, Constraints(), k=20)}
        return found

    assert not families_of(0.9) & set(far)
    assert families_of(0.0) & set(far)  # with no bar, the far family's cards come back


def test_a_card_that_answers_a_raised_stop_hazard_goes_before_the_harmless_causes(grounder: Grounder) -> None:
    grounding = grounder.ground("the kitchen smells like rotten eggs even when the stove is off")
    checked = 0
    for m in grounding.families:
        for c in m.family.contradictions:
            plain = grounder.cards(grounding, c.improving, c.worsening, Constraints(), k=20)
            if not any("gas" in o.card.hazards for o in plain[1:]) or "gas" in plain[0].card.hazards:
                continue
            lifted = grounder.cards(grounding, c.improving, c.worsening, Constraints(), k=20, stop=["gas"])
            assert "gas" in lifted[0].card.hazards
            assert {o.card.id for o in lifted} == {o.card.id for o in plain}  # lifted, nothing added or lost
            # a tight budget and a do-it-yourselfer do not mark down the professional's job a STOP calls for
            frugal = Constraints(budget="tight", skill="diy")
            safety = [o for o in grounder.cards(grounding, c.improving, c.worsening, frugal, k=20, stop=["gas"])
                      if "gas" in o.card.hazards]
            assert [o.score for o in safety] == [o.score for o in lifted if "gas" in o.card.hazards]
            checked += 1
    assert checked, "the test needs a contradiction where a gas card ranks below a harmless one"



def test_a_message_of_several_clauses_is_matched_by_its_clauses_as_well(grounder: Grounder,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from drain.grounding import families

    text = ("We just moved into a 1950s ranch with lots of old carpet and dark paneling we hate. "
            "Also the toilet runs for a few seconds every hour.")
    single = "gutters overflow every time it rains hard"
    read = [m.family.id for m in grounder.ground(text).families]
    read_single = grounder.ground(single).families
    monkeypatch.setattr(families, "CLAUSE_WEIGHT", 0.0)
    whole = [m.family.id for m in grounder.ground(text).families]
    assert read[0] == "running-toilet"
    assert whole[0] != "running-toilet"  # read whole, the house's description outweighs the one complaint
    assert grounder.ground(single).families == read_single  # one clause: nothing to read apart


def test_a_cause_whose_remedy_the_problem_names_comes_first(grounder: Grounder,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """"Sliding" is in the rollers card, not in the sagging-hinge cause's words: the cards' closeness decides."""
    from drain.grounding import families as families_module

    def causes(weight: float) -> list[str]:
        monkeypatch.setattr(families_module, "CAUSE_CARDS", weight)
        found = grounder.ground("sliding patio door is really hard to open")
        assert found.families[0].family.id == "sticking-doors"
        return [m.cause.id for m in found.causes]

    assert causes(families_module.CAUSE_CARDS)[0] == "sliding-rollers"
    assert causes(0.0)[0] == "sagging-hinge"  # by the causes' words alone the hinge came first
