"""Fix cards for one contradiction: the matched families' cards whose principles stand in its matrix cell.

A card is a candidate when one of its principles is in the cell; it is traced to the first of them in the
cell's published order. Candidates are ranked by how close the card is to the problem (meaning), how
strongly its family matched, how often the nearest labelled cases name it, the principle's place in the
cell, and how it fits the homeowner's constraints (a tight budget, renting, doing it yourself).
"""

from __future__ import annotations

from collections import defaultdict
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

__all__ = ["WEIGHTS", "CardCandidate", "card_votes", "fit", "rank_cards"]

WEIGHTS = {"similar": 0.4, "family": 0.25, "cases": 0.25, "position": 0.1}
NEAREST_CASES = 12


@dataclass(frozen=True)
class CardCandidate:
    """A card offered for a contradiction, the cell principle it is traced to, and its score."""

    card: Card
    family: str
    principle: int
    position: int  # 1-based place of that principle in the cell
    score: float


def card_votes(library: HouseLibrary, index: LibraryIndex, query: np.ndarray,
               exclude_cases: Collection[str] = ()) -> dict[str, float]:
    """How strongly the nearest labelled cases name each card (0..1, the best card 1)."""
    scores = index.scores("case", query)
    by_id = library.case_by_id
    votes: dict[str, float] = defaultdict(float)
    taken = 0
    for row in np.argsort(-scores, kind="stable"):
        ident = index.keys["case"][row]
        if ident in exclude_cases:
            continue
        weight = max(0.0, float(scores[row])) ** 2
        for position, card in enumerate(by_id[ident].cards):
            votes[card] += weight * (1.0 - 0.15 * position)
        taken += 1
        if taken >= NEAREST_CASES:
            break
    top = max(votes.values(), default=0.0)
    return {card: vote / top for card, vote in votes.items()} if top else {}


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
               exclude: Collection[str] = (), votes: dict[str, float] | None = None) -> list[CardCandidate]:
    """The ``k`` best cards for the contradiction (improving, worsening), best first."""
    cell = library.knowledge.matrix.principles_of(improving, worsening)
    if not cell:
        return []
    matched = {m.family.id: m.score for m in families}
    top_family = max(matched.values(), default=1.0) or 1.0
    votes = votes if votes is not None else {}
    pool = {card.id: card for ident in matched for card in library.cards_of(ident)}
    pool |= {ident: library.cards[ident] for ident in votes if ident in library.cards}
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
                 + WEIGHTS["cases"] * votes.get(ident, 0.0)
                 + WEIGHTS["position"] * (1.0 - 0.25 * (position - 1)))
        score *= fit(card, constraints)
        if cause is not None and cause in card.causes:
            score *= 1.3
        found.append(CardCandidate(card, family, cell[position - 1], position, round(score, 4)))
    found.sort(key=lambda c: (-c.score, c.card.id))
    return found[:k]
