"""The house library: the shipped data loads and passes its quality gates; bad data is named by file and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import triz
from drain.evaluate.cases import protected_problems
from tests.helpers import ROOT
from triz.errors import DataFileError
from triz.house import HouseLibrary, load_house
from triz.house.checks import closest_pairs, find_leaks, quality_report
from triz.house.loader import read_library
from triz.house.search import search_cards

HOUSE = ROOT / "house"


@pytest.fixture(scope="module")
def library() -> HouseLibrary:
    return load_house()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    folder = tmp_path / "house"
    shutil.copytree(HOUSE, folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


def test_the_shipped_library_passes_every_quality_gate(library: HouseLibrary) -> None:
    report = quality_report(library, protected=protected_problems())
    assert report.problems == []
    assert report.counts["families"] >= 150 and report.counts["fixes"] >= 1200 and report.counts["cases"] >= 1500
    assert all(count >= 30 for count in report.counts["hazard_phrasings"].values())
    assert all(count > 0 for count in report.cards_per_principle.values())  # all 40 principles are applied


def test_every_card_is_traced_to_a_cell_that_holds_one_of_its_principles(library: HouseLibrary) -> None:
    matrix = library.knowledge.matrix
    for card in library.cards.values():
        for i, w in card.resolves:
            assert set(card.principle_ids) & set(matrix.principles_of(i, w)), card.id


def test_stop_hazard_cards_are_left_to_professionals(library: HouseLibrary) -> None:
    rules = library.knowledge.hazards.rules
    stop = [card for card in library.cards.values() if any(rules[h].severity == "stop" for h in card.hazards)]
    assert stop  # the library has such cards, and every one of them is a pro's job
    assert all(card.diy == "pro" for card in stop)


def test_follow_ups_lead_to_cards_that_answer_them(library: HouseLibrary) -> None:
    followups = [(card, f) for card in library.cards.values() for f in card.creates]
    assert followups
    for card, followup in followups:
        assert card.id not in followup.cards
        assert all(ident in library.cards for ident in followup.cards)
        assert library.knowledge.matrix.principles_of(followup.improving, followup.worsening)


def test_a_schema_error_names_the_file_and_line(copy: Path) -> None:
    path = copy / "families" / "water-basements.toml"
    _edit(path, 'diy = "easy"', 'diy = "sort of"')
    with pytest.raises(DataFileError) as caught:
        read_library(copy, triz.load())
    card_line = _line_of(path, 'id = "extend-downspouts"') - 1  # the [[card]] header above it
    assert caught.value.path == str(path) and caught.value.line == card_line
    assert "diy" in str(caught.value)


def test_an_unknown_card_in_a_follow_up_is_named(copy: Path) -> None:
    path = copy / "families" / "water-basements.toml"
    _edit(path, 'cards = ["battery-backup-sump", ', 'cards = ["no-such-card", ')
    with pytest.raises(DataFileError, match="creates names no card 'no-such-card'"):
        read_library(copy, triz.load())


def test_a_principle_outside_its_cell_is_refused_with_cells_that_would_do(copy: Path) -> None:
    path = copy / "families" / "water-basements.toml"
    _edit(path, "resolves = [[27, 36]]", "resolves = [[27, 25]]")  # 27x25 holds 10, 30, 4: not 13 or 35
    with pytest.raises(DataFileError) as caught:
        read_library(copy, triz.load())
    message = str(caught.value)
    assert "battery-backup-sump" in message and "27x25" in message and "27x36" in message


def test_a_stop_hazard_card_must_be_a_pro_job(copy: Path) -> None:
    path = copy / "families" / "water-basements.toml"
    _edit(path, 'principles = [\n  { id = 2, how = "takes the harmful part',
          'hazards = ["gas"]\nprinciples = [\n  { id = 2, how = "takes the harmful part')
    with pytest.raises(DataFileError, match=r'stop hazard .gas., so diy must be "pro"'):
        read_library(copy, triz.load())


def test_collecting_mode_reports_every_problem(copy: Path) -> None:
    path = copy / "families" / "water-basements.toml"
    _edit(path, 'diy = "easy"', 'diy = "sort of"')
    cases = copy / "cases" / "water-basements.jsonl"
    cases.write_text(cases.read_text() + '{"id": "x-1", "text": "wet", "family": "nope", "pairs": [[30, 32]], '
                     '"cards": ["extend-downspouts"]}\nnot json\n')
    reader = read_library(copy, triz.load(), collect=True)
    messages = [str(e) for e in reader.errors or []]
    assert any("diy" in m for m in messages)
    assert any("not a JSON object" in m for m in messages)  # the broken file is named, the rest still read


def test_a_bad_hazard_phrasing_names_its_line(copy: Path) -> None:
    path = copy / "hazards" / "phrasings.jsonl"
    lines = path.read_text().splitlines()
    lines.insert(1, json.dumps({"category": "ghosts", "text": "the attic moans at night", "split": "tune"}))
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFileError) as caught:
        read_library(copy, triz.load())
    assert caught.value.line == 2 and "ghosts" in str(caught.value)


def test_near_duplicates_and_leaks_are_found() -> None:
    texts = {"a": "Extend the downspouts away from the wall", "b": "extend downspouts away from walls",
             "c": "Seal the attic hatch with foam tape"}
    assert closest_pairs(texts, top=1) == [(1.0, "a", "b")]
    leaks = find_leaks({"x": "My basement LEAKS every time it rains hard!"},
                       ["my basement leaks every time it rains hard"])
    assert leaks and leaks[0][0] == "x"
    assert find_leaks({"y": "the attic is too hot"}, ["my basement leaks"]) == []


def test_search_ranks_the_card_for_the_cause_named(library: HouseLibrary) -> None:
    hits = search_cards(library, "the sump pump stops when the power goes out in a storm", limit=3)
    assert {"battery-backup-sump", "water-powered-backup-sump"} & {hit.card.id for hit in hits}
    assert search_cards(library, "zzzz qqqq") == []


def test_the_shipped_vectors_cover_every_text_of_the_library(library: HouseLibrary) -> None:
    """So a fresh install or CI never embeds the whole library; after editing house/, run `drain kb index`."""
    import numpy as np

    from drain.grounding.index import library_rows
    from drain.grounding.vectors import key_of, shipped_path

    with np.load(shipped_path()) as data:
        shipped = {str(k) for k in data["keys"]}
    texts = {text for rows in library_rows(library).values() for _, text in rows}
    missing = [t for t in texts if key_of(t) not in shipped]
    assert not missing, f"{len(missing)} library texts have no shipped vector (e.g. {missing[0]!r}): run drain kb index"
