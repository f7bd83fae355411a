"""The settled reading (triz/settled.py, matrix/settled.toml): a danger dealt with is set aside, a live one never."""

from __future__ import annotations

from pathlib import Path

import pytest

import triz
from triz.errors import DataFileError
from triz.resources import find_data_dir
from triz.settled import load_settled, sentences

# (text, the category a plain rule match would raise): each tells of the danger as over or ruled out
DEALT_WITH = [
    ("We smelled gas last winter, the utility came out and fixed the meter, and it has been fine since.", "gas"),
    ("The popcorn ceiling tested negative for asbestos at the lab, how do I scrape it?", "asbestos"),
    ("the plumber replaced the relief valve last year and its been bone dry", "water_heater_pressure"),
    ("Our pipe wrap was removed by a licensed abatement crew, now I want to insulate the pipes", "asbestos"),
    ("Our house was built in 2004 and I want to remove the popcorn ceiling. What tools?", "asbestos"),
    ("Our radon test came back at 0.8 pCi/L. That's low, right?", "radon"),
    ("I pressed the test button on the carbon monoxide alarm and it beeped loudly, is that right?",
     "carbon_monoxide"),
    ("The neighbours have a bonfire going and I can smell smoke in the house through the window", "fire"),
    ("I burned the bacon and the smoke alarm went off because it was burning, how do I stop that every time?",
     "fire"),
    ("The locate service marked everything yesterday, so can I dig a hole for the mailbox post?",
     "buried_utilities"),
    ("Some rain came in under the back door and left a puddle, far from any outlets", "electrical"),
    ("A raccoon tips over our bins every night but it never comes inside, how do I stop it?", "wildlife"),
    ("Got stung on the hand weeding, it's red with no swelling beyond the spot", "stinging_insects"),
    ("What angle should I use leaning a ladder against the wall to paint the trim?", "structural"),
    ("the old papery ball under the eaves is empty, nothing has gone in or out for months", "stinging_insects"),
    ("The chimney sweep came in May and told us the flue and the liner are sound. Oak or ash logs?", "chimney_flue"),
    # read on held-out set 10's false alarms, after its one run
    ("The stove's flue was inspected and swept in October. Which firelighters are best?", "chimney_flue"),
    ("Animal control removed the bats from the attic and sealed the gap, what paint matches the trim?", "wildlife"),
    ("Do decoy hornet nests on the porch really keep hornets away?", "stinging_insects"),
    # read on held-out set 11's false alarms, after its one run: questions of how things work, a pro's finding
    ("Why do gas leaks smell like rotten eggs? It's for a school project.", "gas"),
    ("Why do frozen pipes burst when they thaw?", "frozen_pipes"),
    ("We smelled rotten eggs, so the gas company sent a technician who checked every joint with a sniffer and found no "
     "leak at all.", "gas"),
    # read on held-out set 12's false alarms, after its one run
    ("The chimney sweep came to look at the flue liner, found a cracked tile, replaced it and tested the draw.",
     "chimney_flue"),
    ("Why is it dangerous to mix bleach with vinegar? Just curious.", "chemicals"),
    # read on held-out set 13's false alarms, after its one run: a sentence naming who dealt with it covers the
    # one before ("covers"), a whole-message fact covers every sentence (category_done), a pro hired for it
    ("I want to remove the wall between the kitchen and lounge. The structural engineer came and confirmed it is not "
     "load bearing.", "structural"),
    ("Our flat is all-electric, we cook on induction and heat with a heat pump. The landlord came round yesterday "
     "about the damp in the bedroom. There is a rotten egg smell in the kitchen.", "gas"),
    ("We hired a roofing company to clean the gutters on our two storey house.", "work_at_height"),
    ("the basement flooded but its dry now and power is back on", "flooding"),
    # read on held-out set 14's false alarms, after its one run: the risky work left to a professional who is coming
    # (a pending pattern), a pro's system put in, a general question about "a garage door", a sign explained
    ("An electrician is running a new circuit for the garage workshop. Once he's done and the walls are closed up, "
     "I'll patch the drywall and paint.", "electrical"),
    ("A licensed tank contractor will pump out and remove the basement oil tank. My only job is clearing a path.",
     "fuel_oil_tank"),
    ("Our radon test was 6 pCi/L when we bought the house, so a certified mitigation contractor put in a sub-slab fan "
     "system. The follow-up test came back at 0.8.", "radon"),
    ("What's the difference between torsion and extension springs on a garage door? Which is more common?",
     "garage_door_spring"),
    ("There's a little red light glowing on the bathroom outlet. Looked it up, it's just the indicator on the GFCI.",
     "fire"),
]

# a new alarm being put up is prevention; one going off is not
NEW_ALARM = "I just bought a carbon monoxide alarm, should I mount it high or low in the hallway?"
ALARM_GOING_OFF = "I just bought a carbon monoxide alarm and it went off twice tonight in the hallway"

# each still needs its warning: back again, never dealt with, a layperson's word, or another danger beside it
STILL_LIVE = [
    ("The plumber replaced the relief valve last year and now it drips again.", "water_heater_pressure"),
    ("We had the gas leak fixed in May but I still smell gas by the stove.", "gas"),
    ("The chimney hasn't been swept in years and the fireplace smokes into the room.", "chimney_flue"),
    ("My landlord says the buzzing in the breaker panel is normal and he is not calling anyone.", "electrical"),
    ("The asbestos test came back negative. The outlet in the bathroom sparks when I plug in the dryer.",
     "electrical"),
    ("Our radon test came back at 0.8 in the living room but 12 pCi/L in the basement.", "radon"),
    ("Can the plumber replace the relief valve? It drips all day.", "water_heater_pressure"),
    ("Our house was built in 2004 and the basement smells of gas.", "gas"),
    ("I spilled a splash of bleach into the vinegar bucket and now the fumes make me cough", "chemicals"),
    ("smoke is coming out of the bedroom wall, the one we share with the neighbours chimney", "fire"),
    # an inspection finds dangers as often as it rules them out
    ("The home inspector checked the deck and said the ledger board is pulling away from the house", "deck_balcony"),
    ("The inspector tested the outlets and two of them are hot and buzzing", "electrical"),
    ("the chimney was inspected and the sweep said the flue liner is cracked", "chimney_flue"),
    # a cause that is harmless alone, beside a sign that is not
    ("I burned the toast and now there are flames coming out of the toaster", "fire"),
    # "fine now" after a reset is not a fix, nor a burnt smell that nobody made
    ("The outlet in the nursery flashed blue and went dead; I reset the breaker and it's fine now, ok to use it?",
     "electrical"),
    ("I woke up at 2am to a smell like burnt toast and a haze in the hall, and nothing is on", "fire"),
    ("My landlord looked and said it's fine now, but the ceiling is still sagging over the bed", "structural"),
    ("Rain left a puddle far from any outlets, but the extension cord for the freezer is lying in it",
     "electrical"),
    ("Got stung by a wasp, no swelling beyond the spot but my throat feels tight", "stinging_insects"),
    ("While leaning my ladder against the wall I saw the wall is bulging and cracked", "structural"),
    # "fine so far" says nothing has gone wrong yet, not that the danger was dealt with
    ("Two power strips plugged into each other run the fridge and the heater; it's been fine so far, right?",
     "fire_risk"),
    # a reset that made sparks is not a fix, nor upkeep left undone "since"
    ("The panel sparked when I reset the breaker last month but it's been fine since.", "electrical"),
    ("Nobody has swept the chimney, it hasn't been used since we moved in, and I can't see any sky up it.",
     "chimney_flue"),
    ("The sweep said the cracked flue liner is not safe to use, what now?", "chimney_flue"),
    # read on held-out set 10, after its one run: "dry" of the sanding, and still using a damaged thing "fine"
    ("The 1920s trim has been dry sanded all week and there's dust on the toys; it's been dry scraping too.", "lead"),
    ("Part of the flue liner fell into the stove in spring but we've kept using it fine since.", "chimney_flue"),
    # read on held-out set 11, after its one run: a tingle, or a flame heater by a frozen pipe, is no fix
    ("I waded through the flooded basement and felt a tingle, but it's been fine since.", "flooding"),
    ("The line froze so I left a propane heater under the house overnight; it's been fine since.", "frozen_pipes"),
    # read on held-out set 12, after its one run: damage still there, and "fine otherwise"
    ("The garage door cable is frayed but the door has been fine.", "garage_door_spring"),
    ("the floor drain gurgled dirty water once, it's been fine otherwise", "sewage_backup"),
    # read on held-out set 13, after its one run: played down by the writer or by someone who is not a pro
    ("The outlet by the sink sparked once but it has been fine for years.", "electrical"),
    ("The landlord says the gas smell in the hallway is nothing.", "gas"),
    # read on held-out set 14, after its one run: a pro only coming covers no other sentence; back again; marks gone
    ("The electrician is coming Friday to look at the outlet. The outlet is sparking and smoking.", "electrical"),
    ("The contractor is removing the popcorn ceiling dry next week.", "asbestos"),
    ("The gas company tightened a joint by the water heater back in March. This week the hissing and the smell are "
     "both back.", "gas"),
    ("We had a company clean mold out of the crawlspace in 2021, but it has grown back across all the joists.",
     "mold_large_area"),
    ("The utility locators marked the lines last year, but those flags are long gone, and I'm digging a hole "
     "tomorrow.", "buried_utilities"),
]


@pytest.fixture(scope="module")
def knowledge() -> triz.TrizKnowledge:
    return triz.load()


def test_where_to_put_up_alarms_is_prevention_but_having_none_is_not(knowledge: triz.TrizKnowledge) -> None:
    reading = knowledge.hazards.settled
    assert reading.done("Where should the carbon monoxide detectors go in a split-level house?", "carbon_monoxide")
    assert not reading.done("There are no CO detectors at all, where should they go?", "carbon_monoxide")
    assert not reading.done("Where should the CO alarm go? It keeps beeping", "carbon_monoxide")


@pytest.mark.parametrize(("text", "category"), DEALT_WITH)
def test_a_danger_dealt_with_is_set_aside(knowledge: triz.TrizKnowledge, text: str, category: str) -> None:
    assert category not in {h.category for h in knowledge.check_hazards(text)}
    assert category in {h.category for h in knowledge.hazards.set_aside(text)}


@pytest.mark.parametrize(("text", "category"), STILL_LIVE)
def test_a_live_danger_is_never_set_aside(knowledge: triz.TrizKnowledge, text: str, category: str) -> None:
    assert category in {h.category for h in knowledge.check_hazards(text)}
    assert category not in {h.category for h in knowledge.hazards.set_aside(text)}


def test_the_library_dangers_are_never_set_aside(knowledge: triz.TrizKnowledge) -> None:
    """Every tune phrasing of a danger that the rules raise stays raised (the reading was tuned on these)."""
    from triz.house import load_house

    library = load_house()
    aside = [p.text for p in library.phrasings if p.split == "tune"
             and p.category in {h.category for h in knowledge.hazards.set_aside(p.text)}]
    assert aside == []


def test_a_new_alarm_is_prevention_and_one_going_off_is_not(knowledge: triz.TrizKnowledge) -> None:
    reading = knowledge.hazards.settled
    assert reading.done(NEW_ALARM, "carbon_monoxide")
    assert not reading.done(ALARM_GOING_OFF, "carbon_monoxide")
    assert "carbon_monoxide" in {h.category for h in knowledge.check_hazards(ALARM_GOING_OFF)}


def test_tense_and_negation_are_read(knowledge: triz.TrizKnowledge) -> None:
    reading = knowledge.hazards.settled
    assert reading.done("the sweep cleaned the flue in May")
    assert not reading.done("we want the sweep to clean the flue")
    assert not reading.done("it has not been cleaned in years")
    assert reading.live("it keeps happening") and not reading.live("should I still test it yearly")
    assert reading.live("now it drips again") and not reading.live("how do I stop it happening again")
    assert reading.done("house built in 1995", "lead") and not reading.done("house built in 1995", "gas")


def test_sentences_are_cut_at_their_ends_not_in_numbers() -> None:
    assert sentences("It read 0.8 pCi/L. Fine since!\nAnything else") == ["It read 0.8 pCi/L", "Fine since",
                                                                       "Anything else"]


def test_a_bad_pattern_is_one_line_naming_the_file(tmp_path: Path) -> None:
    text = (find_data_dir("matrix") / "settled.toml").read_text(encoding="utf-8")
    (tmp_path / "settled.toml").write_text(text.replace("live = [", "live = [\n  '(unclosed',", 1), encoding="utf-8")
    with pytest.raises(DataFileError, match=r"settled.toml: settled.live: '\(unclosed' is not a valid pattern"):
        load_settled(tmp_path)


def test_the_tree_notes_a_danger_dealt_with_instead_of_raising_it() -> None:
    from drain.backends.fake import FakeBackend
    from drain.planner import Planner
    from drain.render.markdown import to_markdown

    problem = "We had a gas leak at the meter last year; the gas company fixed it and there has been no smell since."
    tree = Planner(FakeBackend(), log=False).solve(problem)
    assert "gas" not in {h.category for h in tree.hazards}
    assert [h.category for h in tree.dealt_with] == ["gas"]
    assert "You said this was dealt with (gas). If the signs come back: STOP" in to_markdown(tree)
    live = Planner(FakeBackend(), log=False).solve("the gas company fixed the meter but I still smell gas")
    assert "gas" in {h.category for h in live.hazards} and live.dealt_with == []
