"""Fix cards for one contradiction: the matched families' cards whose principles stand in its matrix cell.

A card is a candidate when one of its principles is in the cell; it is traced to the first of them in the
cell's published order. Candidates are ranked by how close the card is to the problem (meaning), how
strongly its family matched, the principle's place in the cell, and how it fits the homeowner's constraints
(a tight budget, renting, doing it yourself). A card about the likely cause, and a card that answers a
stop-severity hazard raised for the text (get out and call the gas utility, for a rotten-egg smell), are
lifted above the others (:data:`BOOSTS`); the latter is never marked down for the budget or for being a
professional's job, since the STOP says to leave it to one. The weights were set on the library's dev cases
(``bench/bench_retrieval.py``); the votes of the nearest labelled cases were tried as a fourth kind of
evidence and lowered card hit@1 there (0.55 -> 0.42 at the weight of the family), so they are not used.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from drain.grounding.families import FamilyMatch
    from drain.grounding.index import LibraryIndex
    from drain.schema import Constraints
    from triz.house import HouseLibrary
    from triz.house.models import Card

__all__ = ["BOOSTS", "WEIGHTS", "CardCandidate", "fit", "rank_cards"]

# position 0.1 -> 0.05 (2026-12-02): the cell's first principle no longer outranks a card much closer to the
# problem ("the key is hard to turn": the graphite card, not the door that swings by itself); library dev
# cases card@1 0.531 -> 0.554, train 0.521 -> 0.539, card@3 unchanged (bench/RESULTS.md section 19)
WEIGHTS = {"similar": 0.4, "family": 0.5, "position": 0.05}
# factors on a card's score: it is about the likely cause; it answers a stop hazard raised for the text
BOOSTS = {"cause": 1.3, "stop_hazard": 1.5}


@dataclass(frozen=True)
class CardCandidate:
    """A card offered for a contradiction, the cell principle it is traced to, and its score."""

    card: Card
    family: str
    principle: int
    position: int  # 1-based place of that principle in the cell
    score: float


def fit(card: Card, constraints: Constraints) -> float:
    """A factor (at most 1) for how well a card suits what the homeowner said about money, tenure, skill."""
    factor = 1.0
    if constraints.budget == "tight":
        factor *= {"$": 1.0, "$$": 0.85, "$$$": 0.55}[card.band]
    if constraints.tenure == "rent" and not card.renter_ok:
        factor *= 0.35
    if constraints.skill == "diy":
        factor *= {"easy": 1.0, "moderate": 0.9, "pro": 0.7}[card.diy]
    return factor


def rank_cards(library: HouseLibrary, index: LibraryIndex, query: np.ndarray, families: Iterable[FamilyMatch],
               improving: int, worsening: int, constraints: Constraints, *, cause: str | None = None, k: int = 6,
               exclude: Collection[str] = (), stop: Collection[str] = ()) -> list[CardCandidate]:
    """The ``k`` best cards for the contradiction (improving, worsening), best first.

    ``stop``: the stop-severity hazard categories raised for the text; a card listing one is
    lifted by :data:`BOOSTS`.
    """
    cell = library.knowledge.matrix.principles_of(improving, worsening)
    if not cell:
        return []
    matched = {m.family.id: m.score for m in families}
    top_family = max(matched.values(), default=1.0) or 1.0
    stop = frozenset(stop)
    pool = {card.id: card for ident in matched for card in library.cards_of(ident)}
    similar = dict(zip(index.keys["card"], index.scores("card", query).tolist(), strict=True))
    found = []
    for ident, card in pool.items():
        if ident in exclude:
            continue
        places = [cell.index(p) + 1 for p in card.principle_ids if p in cell]
        if not places:
            continue
        position = min(places)
        family = max(card.families, key=lambda f: matched.get(f, 0.0))
        score = (WEIGHTS["similar"] * max(0.0, similar.get(ident, 0.0))
                 + WEIGHTS["family"] * matched.get(family, 0.0) / top_family
                 + WEIGHTS["position"] * (1.0 - 0.25 * (position - 1)))
        if stop and not stop.isdisjoint(card.hazards):
            score *= BOOSTS["stop_hazard"]  # safety first: no budget or do-it-yourself discount on it
        else:
            score *= fit(card, constraints)
        if cause is not None and cause in card.causes:
            score *= BOOSTS["cause"]
        found.append(CardCandidate(card, family, cell[position - 1], position, round(score, 4)))
    found.sort(key=lambda c: (-c.score, c.card.id))
    return found[:k]
