"""The hazard probe: a softmax on the sentence vectors that tells dangerous situations from look-alikes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import triz
from drain.grounding import hazards as probe_module
from drain.grounding.clauses import clauses
from drain.grounding.grounder import Grounder, shared_grounder
from drain.grounding.hazards import PROBE_FILE, features, load_tuning, probe_inputs, read_tuning
from drain.grounding.probe import class_balanced, fit_softmax
from drain.grounding.words import DIMENSIONS, tokens, word_vector
from drain.steps.tree import hazards_of


@pytest.fixture(scope="module")
def grounder() -> Grounder:
    return shared_grounder(triz.load())


def _blobs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    centres = np.eye(3, 8)
    x = np.vstack([c + 0.2 * rng.standard_normal((20, 8)) for c in centres])
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(3), 20)


def test_the_fit_is_deterministic_and_separates_classes() -> None:
    x, y = _blobs()
    weights = class_balanced(y, np.ones(len(y)))
    first = fit_softmax(x, y, weights, classes=3)
    second = fit_softmax(x, y, weights, classes=3)
    assert np.array_equal(first.w, second.w) and np.array_equal(first.b, second.b)
    assert (first.probabilities(x).argmax(axis=1) == y).mean() >= 0.95
    assert first.probabilities(x[0]).shape == (3,) and abs(first.probabilities(x[0]).sum() - 1) < 1e-9


def test_word_features_are_stemmed_words_and_pairs_hashed_to_a_unit_vector() -> None:
    assert tokens("Sparks!! SPARKING, sparked") == ["spark", "spark", "spark", "spark spark", "spark spark"]
    assert tokens("the gas is on") == ["gas", "is", "on", "gas is", "is on"]  # the project's stems: "the" skipped
    v = word_vector("Sparks!! SPARKING, sparked")
    assert v.shape == (DIMENSIONS,) and int((v > 0).sum()) == 2 and abs(float(v @ v) - 1) < 1e-6
    assert not word_vector("  ¿? ").any() and not word_vector("").any()
    assert float(word_vector("gas smell") @ word_vector("smell gas")) < 0.99  # the pairs keep some order


def test_the_word_columns_fitted_in_float32_give_the_float64_fit() -> None:
    rng = np.random.default_rng(3)
    x = np.hstack([rng.standard_normal((200, 6)), (rng.random((200, 40)) < 0.1) * 0.4]).astype(np.float32)
    y, w = rng.integers(0, 3, 200), np.ones(200)
    wide, mixed = (fit_softmax(x, y, w, classes=3, steps=60, float32_from=cut) for cut in (None, 6))
    assert np.allclose(wide.probabilities(x), mixed.probabilities(x), atol=1e-3)
    assert np.array_equal(mixed.w, fit_softmax(x, y, w, classes=3, steps=60, float32_from=6).w)  # deterministic


def test_the_probe_reads_the_words_as_well_as_the_meaning(grounder: Grounder) -> None:
    text = "the breaker buzzes and the cover feels hot"
    vector = grounder.embed(text)
    probe = grounder.semantic_hazards.tuning.probe
    with_words, without = probe.probabilities(features(np.vstack([vector, vector]), [text, ""]))
    electrical = grounder.semantic_hazards.tuning.categories.index("electrical")
    assert with_words[electrical] > without[electrical] + 0.1


def test_every_class_weighs_the_same_in_total() -> None:
    labels = np.array([0, 0, 0, 0, 1, 2, 2])
    weights = class_balanced(labels, np.array([1.0, 1.0, 0.1, 0.1, 1.0, 1.0, 1.0]))
    totals = [weights[labels == c].sum() for c in range(3)]
    assert np.allclose(totals, totals[0]) and weights[2] < weights[0]


def test_the_shipped_probe_was_fitted_on_the_library_as_it_is(grounder: Grounder) -> None:
    """After editing house/ or the hazard rules, run `drain kb index` (it refits and ships the probe)."""
    digest = probe_inputs(grounder.library, grounder.index).digest
    shipped = read_tuning(grounder.library.folder / PROBE_FILE, digest)
    assert shipped is not None, "house/hazard_probe.npz is stale: run drain kb index"
    rules = grounder.library.knowledge.hazards.rules
    assert set(shipped.categories) == set(rules) and all(0.3 <= t < 1.0 for t in shipped.thresholds.values())
    stop = {shipped.thresholds[c] for c in rules if rules[c].severity == "stop"}
    caution = {shipped.thresholds[c] for c in rules if rules[c].severity != "stop"}
    assert len(stop) == len(caution) == 1  # one bar for the stop categories, one for the cautions
    assert shipped.tune_false_alarms <= probe_module.FALSE_ALARM_BUDGET


def test_the_probe_raises_what_the_rules_miss_and_keeps_look_alikes_calm(grounder: Grounder) -> None:
    knowledge = grounder.knowledge
    missed_by_rules = "the torsion thing above the garage door is in two pieces"
    assert not knowledge.check_hazards(missed_by_rules)
    raised = hazards_of(knowledge, grounder, missed_by_rules)
    assert [(h.category, h.source) for h in raised] == [("garage_door_spring", "similar")]
    assert raised[0].similar_to and raised[0].score is not None
    for ordinary in ("I want to repaint the kitchen cabinets white", "the gas fireplace remote needs new batteries",
                     "the washing machine is loud on the spin cycle"):  # (a dryer slow to dry: a clogged vent,
        # which the fire-risk caution rightly names since the probe was refitted on the fourth held-out set)
        assert hazards_of(knowledge, grounder, ordinary) == [], ordinary


def test_a_danger_told_as_one_clause_of_a_long_message_is_raised_and_explained_by_that_clause(
        grounder: Grounder) -> None:
    danger = "the torsion thing above the garage door is in two pieces"
    message = ("We just moved in and are painting the kids' rooms this weekend, which roller is best for walls? "
               f"Also {danger}. And the lawn needs seeding before it gets cold")
    assert danger in clauses(message)
    raised = {h.category: h for h in grounder.hazards(message)}
    alone = grounder.hazards(danger)[0]
    assert "garage_door_spring" in raised and alone.category == "garage_door_spring"
    assert raised["garage_door_spring"].similar_to == alone.similar_to
    assert raised["garage_door_spring"].probability == alone.probability  # the clause's reading, not the whole's
    assert clauses(danger) == [] and clauses("Also the gas meter hisses.") == []  # one piece: read whole only


def test_a_library_edited_since_is_refitted_once_and_cached(grounder: Grounder, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "PROBE_FILE", "no-such-probe.npz")
    monkeypatch.setattr(probe_module, "REPEATS", 1)  # one round of two folds is enough here
    monkeypatch.setattr(probe_module, "FOLDS", 2)
    fitted = load_tuning(grounder.library, grounder.index, cache_dir=tmp_path)
    cached = list((tmp_path / "probe").glob("hazard-probe-*.npz"))
    assert len(cached) == 1
    monkeypatch.setattr(probe_module, "tune", lambda *a: pytest.fail("refitted although cached"))
    again = load_tuning(grounder.library, grounder.index, cache_dir=tmp_path)
    assert again.thresholds == fitted.thresholds and np.array_equal(again.probe.w, fitted.probe.w)


def _inputs(own: float, look_clause: float) -> tuple[probe_module.ProbeInputs, list[np.ndarray], list[np.ndarray]]:
    """Ten phrasings of one stop category read whole at ``own``, and ten look-alikes calm when read whole
    whose clauses read at ``look_clause`` (class 1 is "nothing dangerous")."""
    n = 10
    labels = np.array([0] * n + [1] * n)
    lookalike = np.array([False] * n + [True] * n)
    none = np.zeros(2 * n, bool)
    inputs = probe_module.ProbeInputs(np.zeros((2 * n, 2), np.float32), labels, np.ones(2 * n), ["gas"], lookalike,
                                      none, none, "", [""] * (2 * n), (np.zeros((0, 2), np.float32), []),
                                      np.zeros(0, np.int64))
    held = np.array([[own, 1 - own]] * n + [[0.1, 0.9]] * n)
    clause_held = np.array([[-1.0, -1.0]] * n + [[look_clause, 1 - look_clause]] * n)
    return inputs, [held], [clause_held]


def test_look_alikes_that_alarm_only_clause_by_clause_raise_the_clause_margin() -> None:
    inputs, helds, clause_helds = _inputs(own=0.9, look_clause=0.96)
    bars, margin, per, rate = probe_module._choose(inputs, helds, clause_helds, np.array([True]))
    # a clause needs 0.1 more than the whole message: the phrasings (0.9) are caught, the look-alikes' clauses
    # (0.96) are not
    assert (float(bars[0]), margin, per["gas"], rate) == (0.87, 0.1, 1.0, 0.0)


def test_calm_clauses_keep_a_danger_within_a_longer_message_at_the_plain_bar() -> None:
    inputs, helds, clause_helds = _inputs(own=0.9, look_clause=0.2)
    bars, margin, per, rate = probe_module._choose(inputs, helds, clause_helds, np.array([True]))
    assert margin == 0.0 and float(bars[0]) <= 0.9 and per["gas"] == 1.0 and rate == 0.0


def test_a_clause_read_alone_needs_the_margin_above_the_bar(grounder: Grounder) -> None:
    danger = "the torsion thing above the garage door is in two pieces"
    message = ("We just moved in and are painting the kids' rooms this weekend, which roller is best for walls? "
               f"Also {danger}. And the lawn needs seeding before it gets cold")
    semantic = grounder.semantic_hazards
    alone = grounder.hazards(danger)[0]
    bar = semantic.tuning.thresholds["garage_door_spring"]
    query, parts = grounder.embed(message), grounder._clause_parts(message)
    whole = semantic.tuning.probe.probabilities(features(query[None], [message]))[0]
    assert alone.category == "garage_door_spring"
    assert whole[semantic.tuning.categories.index("garage_door_spring")] < bar  # read whole, the message is calm

    def raised(margin: float) -> set[str]:
        tuning = replace(semantic.tuning, clause_margin=margin)
        return {h.category for h in probe_module.SemanticHazards(grounder.library, grounder.index, tuning)
                .check(query, message, parts)}

    assert "garage_door_spring" in raised(round(alone.probability - bar - 0.01, 3))
    assert "garage_door_spring" not in raised(round(alone.probability - bar + 0.01, 3))


def test_kb_index_keeps_a_current_probe_and_refits_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing families alone must not cost a probe refit; ``--refit`` always fits (``tune`` stands in here)."""
    from drain.commands import kb
    from drain.grounding import hazards as hazards_module
    from drain.grounding import vectors as vectors_module

    written: list[Path] = []
    monkeypatch.setattr(vectors_module, "write_vectors", lambda path, *a, **k: written.append(path) or path)

    class Refitted(Exception):
        pass

    def refit(*args: object) -> None:
        raise Refitted

    monkeypatch.setattr(hazards_module, "tune", refit)
    kb.index(refit=False)  # the shipped probe is current (the stale-probe test above says so): kept
    assert written == [vectors_module.shipped_path()]  # (not written: write_vectors stands in)
    with pytest.raises(Refitted):
        kb.index(refit=True)
