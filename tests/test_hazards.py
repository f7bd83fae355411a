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


# Dangers said in plain words, without the textbook trigger ("gas leak", "carbon monoxide"): symptoms with the
# appliance or the place, plans to do dangerous work oneself, and conditions someone notices.
PLAIN_DANGERS = [
    ("I'd like to add a circuit for the hot tub to our breaker panel on my own", "electrical"),
    ("the panel in the basement hums and one breaker feels warm", "electrical"),
    ("we want to jack up the sagging beam under the kitchen ourselves", "structural"),
    ("the kitchen ceiling dropped an inch overnight and we hear cracking", "structural"),
    ("the kids get headaches in the morning that go away by lunch at school", "carbon_monoxide"),
    ("the stove burners burn yellow and leave soot on the pots", "carbon_monoxide"),
    ("sewage came up through the floor drain in the laundry room", "sewage_backup"),
    ("I plan to move the gas dryer a few feet and redo the fittings", "gas"),
    ("there's a faint egg smell near the furnace every morning", "gas"),
    ("the pipe on the side of the water heater keeps dribbling hot water", "water_heater_pressure"),
    ("water is ankle deep in the basement and the freezer sits in it", "flooding"),
    ("the bathroom ceiling has fuzzy black growth from one end to the other", "mold_large_area"),
    ("a loud bang came from the garage and now the opener can't lift the door", "garage_door_spring"),
    ("my son drank some of the blue window cleaner", "chemicals"),
    ("the floor under the old carpet has black glue from square tiles and I want to grind it off", "asbestos"),
    ("the phone charger left under the pillow gets hot every night", "fire_risk"),
    ("the e-bike battery in the hall is swollen and hissing", "fire"),
]

# Ordinary problems that share words with those dangers ("pilot", "smoke alarm", "gauge", "garage door", "hisses").
PLAIN_ORDINARY = [
    "the pilot hole I drilled for the shelf screw is too big",
    "burnt toast set off the smoke alarm and it stopped once we opened a window",
    "the boiler pressure gauge reads 1.2 bar and every radiator is warm",
    "the remote for the garage door opener needs a new battery",
    "the deck boards have turned grey and weathered",
    "we want to plant a hedge along the driveway",
    "the grout in the shower has gone dark",
    "the car left an oil stain on the driveway",
    "the radiator in the hall hisses softly when the heat comes on",
    "the dryer needs two cycles to dry a load of towels",
    "a squirrel sits on the bird feeder all day",
    "the sump pump runs often in spring",
    "the chimney needs a new coat of paint on the outside",
    "the water in the shower takes a minute to warm up",
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


@pytest.mark.parametrize(("text", "category"), PLAIN_DANGERS)
def test_plain_words_danger_triggers_its_category(knowledge: triz.TrizKnowledge, text: str, category: str) -> None:
    found = [h.category for h in knowledge.check_hazards(text)]
    assert category in found, f"{text!r} -> {found}"


@pytest.mark.parametrize("text", PLAIN_ORDINARY)
def test_plain_words_ordinary_problem_triggers_nothing(knowledge: triz.TrizKnowledge, text: str) -> None:
    found = [(h.category, h.matched) for h in knowledge.check_hazards(text)]
    assert found == [], f"{text!r} -> {found}"


# Words that are dangerous only together ("rain" and "panel"), within a few words of each other. No single
# trigger phrase raises these (checked below): each needs its rule's `together` entry.
TOGETHER_DANGERS = [
    ("rain dripped into our main electrical panel", "electrical"),
    ("squirrels gnawed through the wiring in the attic and the copper shows", "electrical"),
    ("water is running down the wall behind the breaker box", "electrical"),
    ("my brother and I plan to disconnect the gas dryer ourselves before we move", "gas"),
    ("we all feel queasy and lightheaded on winter mornings when the heating runs", "carbon_monoxide"),
    ("brown water rises in the basement floor drain whenever it storms", "sewage_backup"),
    ("the top of our water heater is domed out", "water_heater_pressure"),
    ("the boiler gauge needle sits in the red", "water_heater_pressure"),
    ("the kids' room smells like a hot hair dryer near the ceiling", "fire"),
    ("the power strip for the string lights is under the carpet", "fire_risk"),
    ("the towels take forever in the dryer and the flap outside barely opens", "fire_risk"),
    ("the wood stove came with the house and nobody knows if it was ever swept", "chimney_flue"),
    ("I poured pool acid straight from the jug onto the patio", "chemicals"),
    ("the balcony on the second floor sways when people stand on it", "deck_balcony"),
    ("the fire alarm went off in the middle of the night and we can't find why", "fire"),
    # read on held-out set 7's misses, after its one run
    ("I brushed soapy water on the gas line joint and it made bubbles, should I tighten it?", "gas"),
    ("the pest control guy sprayed this morning and now my daughter is throwing up", "chemicals"),
    ("going to sand the kitchen cabinets from the 50s down to bare wood", "lead"),
    ("the sink only dribbles, I'll hold a lighter under the pipe in the crawlspace till it flows", "frozen_pipes"),
    ("black pellets like grains of rice all over the attic floor, I'll just shop vac them", "wildlife"),
    ("a raccoon is stumbling around our driveway at noon", "wildlife"),
    ("we haven't used the fireplace in years, can we just light it this weekend?", "chimney_flue"),
    # read on held-out set 8's misses, after its one run
    ("we're moving the cooker along the wall, I'll get a longer hose and hook it back up", "gas_appliance"),
    ("the furnace flame quits after a minute, I'll pull the flame sensor and swap it", "gas_appliance"),
    ("there isn't a single smoke detector in the whole flat", "fire_risk"),
    ("the kettle, the microwave and the fridge all run off one cheap extension", "fire_risk"),
    ("nobody has had the chimney swept in about eight years and we want a fire tonight", "chimney_flue"),
    ("the finished basement has water everywhere and the tv is standing in it", "flooding"),
    ("we'd like to put a hot tub on the old wooden deck", "deck_balcony"),
    # read on held-out set 9's misses, after its one run
    ("the boiler lights then shuts off after a few seconds, all night long", "gas_appliance"),
    ("I put a jumper across the water heater's high limit so it runs hotter", "water_heater_pressure"),
    ("the street sewers overflowed into the basement in the storm", "sewage_backup"),
    ("my spade hit some orange plastic conduit in the flower bed", "buried_utilities"),
    ("the heat's been out two days and the taps give nothing", "frozen_pipes"),
    ("striped bugs crawl in and out of the roof vent all afternoon", "stinging_insects"),
    # read on held-out set 10's misses, after its one run
    ("the gas log flame dies the moment I release the button", "gas_appliance"),
    ("the ridge of the garage roof looks swaybacked from the driveway", "structural"),
    ("the kids' bedroom wall is mouldy from corner to corner", "mold_large_area"),
    ("putting the aerial up on the gable this morning though it's gusty", "work_at_height"),
    ("the toaster and the space heater share a cheap splitter", "fire_risk"),
    ("the basement is a pond and the dehumidifier's outlet is right there", "flooding"),
    ("the radon result came in at twice the action level", "radon"),
    ("rust flakes and a wet spot on the legs of the 1970s tank", "fuel_oil_tank"),
    ("the landing at the top of the deck stairs is soft like a sponge", "deck_balcony"),
    ("the shovel turned up yellow warning tape a foot down", "buried_utilities"),
    # read on held-out set 11's misses, after its one run
    ("my son will replace the hose on our gas range this weekend", "gas_appliance"),
    ("the bedroom ceiling is hanging lower in the middle than last month", "structural"),
    ("there's a burnt plastic smell at the light switch by the door", "electrical"),
    ("the guest room ceiling has started dipping in the middle", "structural"),
    ("the radon fan is noisy so I'd like to unplug it", "radon"),
    ("the copper line in the crawlspace burst when it thawed", "frozen_pipes"),
    # read on held-out set 12's misses, after its one run
    ("I'd like to knock out the chimney breast in the dining room myself", "structural"),
    ("I'll stand a stool on the table to reach the hallway light", "work_at_height"),
    ("the smell from the old barrels makes me feel woozy", "chemicals"),
    ("I'm pregnant and my partner is sanding the old window frames this week", "lead"),
    # benchmark dev paraphrases, told without the usual words (2026-12-03)
    ("the fire inside the furnace looks floppy and not blue anymore", "carbon_monoxide"),
    ("downstairs is knee-deep and the chest freezer in it is still running", "electrical"),
    ("we dry the towels two or three times and the flap outside barely opens", "fire_risk"),
    ("it keeps tripping every time I run the kettle and the microwave", "electrical"),
]
TOGETHER_ORDINARY = [  # one of the words, or both far apart or in another sense
    "my elderly mum keeps tripping on the rug edges",
    "our chest freezer in the basement is still running fine after ten years",
    "the panel on the dishwasher is cracked",
    "a bird nest in the dryer vent hood",
    "the dog gets sick when he eats grass",
    "we plan to plant tulips along the fence",
    "the basement floor drain smells musty in summer",
    "the cable box in the living room is warm",
    "my headache comes from the new paint smell",
    "old clawfoot tub, slow drain, afraid to scratch it with a snake",
    "air is leaking in around the outlets on the outside wall",
    "underground gutter drain is clogged, how do I clear it",
    "our smoke detector keeps going off when we cook",
    "the smoke alarm goes off every time I make toast",
    "the installer tested the new gas hookup with soapy water and there were no bubbles",
    "we sanded the new pine shelves and want to paint them",
    "a licensed fitter will connect the new cooker next week, which brand lasts?",
    "a deck builder replaced the ledger board last summer, can we add planters?",
    "shaking out the doormat over the balcony railing",
    "should we buy escape ladders for the second floor bedrooms?",
]


@pytest.mark.parametrize(("text", "category"), TOGETHER_DANGERS)
def test_words_dangerous_together_raise_their_category(knowledge: triz.TrizKnowledge, text: str,
                                                       category: str) -> None:
    found = {m.category: m for m in knowledge.hazards.check(text)}
    assert category in found, text
    assert all(" + " in phrase for phrase in found[category].matched)  # its `together` entry, no trigger


@pytest.mark.parametrize("text", TOGETHER_ORDINARY)
def test_ordinary_problems_with_one_of_the_words_raise_nothing(knowledge: triz.TrizKnowledge, text: str) -> None:
    assert [(m.category, m.matched) for m in knowledge.hazards.check(text)] == [], text


def test_together_needs_every_group_and_closeness() -> None:
    from triz.hazards import HazardChecker
    from triz.models import HazardRule

    rule = HazardRule(category="electrical", severity="stop", triggers=["sparks from the outlet"],
                      message="Stop.", do_now=["Switch off the breaker."], professional="an electrician",
                      together=[[["water", "rain"], ["panel"]]])
    checker = HazardChecker([rule])
    assert [m.matched for m in checker.check("rain got into the panel")] == [("rain + panel",)]
    assert checker.check("rain all week") == [] and checker.check("the panel is grey") == []
    far = "rain " + "and then we went out for lunch with friends after the long morning walk " + "panel"
    assert checker.check(far) == []  # more than ten words apart
    with pytest.raises(ValueError, match="two or more"):
        HazardRule(category="x", severity="stop", triggers=["y"], message="m", do_now=["d"], professional="p",
                   together=[[["only one group"]]])


# A hazard topic named in passing is not a danger: the rules fire on the danger (a bad sign, a level, a symptom, a
# risky do-it-yourself plan), not on the topic word. Each ordinary mention below has a plain danger on the same topic.
TOPIC_MENTIONS = [
    "we have a popcorn ceiling in the den and I find it ugly",
    "the radon test in the basement came back low, nothing to do",
    "a single wasp got in through the kitchen window and flew back out",
    "which carbon monoxide detector should I buy for the hallway",
    "shopping for a quieter gas water heater before the old one wears out",
    "the paint is peeling in the bathroom of our new condo from the shower steam",
    "the kids want to dig up carrots in the vegetable patch",
    "the fridge smells like rotten eggs from a carton that cracked",
    "the oil fill pipe by the back door is faded and needs paint",
    "the chimney sweep cleaned the flue last month and it passed",
    "looking at pellet stoves for the cabin next winter",
    "a faint musty smell in the closet after the rainy week",
]
TOPIC_DANGERS = [
    ("I want to scrape the popcorn ceiling off myself in our 1970s house", "asbestos"),
    ("the basement radon test came back at 9 and the kids sleep down there", "radon"),
    ("wasps keep coming out of a hole in the wall by the bedroom", "stinging_insects"),
    ("the carbon monoxide detector keeps going off at night", "carbon_monoxide"),
    ("I'm replacing the gas water heater myself, what fittings do I need", "gas_appliance"),
    ("paint is peeling off the window sills in our 1940s house and the baby chews them", "lead"),
    ("going to dig up the side yard along the foundation for a drain", "buried_utilities"),
    ("the kitchen smells like rotten eggs near the stove when I get home", "gas"),
    ("heating oil is puddled around the fill pipe after the delivery", "fuel_oil_tank"),
    ("the chimney hasn't been cleaned in ten years and we burn wood all winter", "chimney_flue"),
    ("the pellet stove vent pipe came apart at a joint and ash drifts out", "chimney_flue"),
    ("I feel faint and dizzy whenever the furnace runs", "carbon_monoxide"),
]


@pytest.mark.parametrize(("mention", "danger"), list(zip(TOPIC_MENTIONS, TOPIC_DANGERS, strict=True)))
def test_a_topic_mentioned_in_passing_raises_nothing_and_its_danger_does(knowledge: triz.TrizKnowledge, mention: str,
                                                                         danger: tuple[str, str]) -> None:
    assert [(h.category, h.matched) for h in knowledge.check_hazards(mention)] == [], mention
    text, category = danger
    assert category in [h.category for h in knowledge.check_hazards(text)], text
