"""The house library: DRAIN's home-ownership knowledge in TRIZ terms, read from ``house/``.

Problem families (how homeowners say a problem, its likely causes with the quick check that tells them
apart, its usual contradictions), fix cards (what to do, steps, cost, DIY level, the principles applied,
the follow-up problems a fix creates), hazard phrasings and look-alikes, and labelled cases.

>>> from triz.house import load_house
>>> library = load_house()
>>> card = library.cards["extend-downspouts"]
>>> card.band, [p.id for p in card.principles]
('$', [2])
>>> "basement-seepage" in card.families
True
"""

from __future__ import annotations

import os
from collections import Counter
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from triz.errors import UnknownRecordError
from triz.house.models import Area, Card, Case, Family, HazardPhrasing, Lookalike
from triz.knowledge import TrizKnowledge
from triz.resources import find_data_dir

__all__ = ["HouseLibrary", "load_house"]


class HouseLibrary:
    """Every record of the library, checked, with the indexes the planner and the tools need."""

    def __init__(self, folder: Path, knowledge: TrizKnowledge) -> None:
        from triz.house.loader import content_digest, read_library

        reader = read_library(folder, knowledge)
        self.folder = folder
        self.knowledge = knowledge
        self.areas: dict[str, Area] = reader.areas
        self.families: dict[str, Family] = reader.families
        self.cards: dict[str, Card] = reader.cards
        self.cases: list[Case] = reader.cases
        self.phrasings: list[HazardPhrasing] = reader.phrasings
        self.lookalikes: list[Lookalike] = reader.lookalikes
        self.where = reader.where  # (kind, id) -> (file, line)
        self.digest = content_digest(folder)

    @cached_property
    def case_by_id(self) -> dict[str, Case]:
        """The labelled cases by id."""
        return {case.id: case for case in self.cases}

    @cached_property
    def _cards_by_family(self) -> dict[str, list[Card]]:
        found: dict[str, list[Card]] = {ident: [] for ident in self.families}
        for card in self.cards.values():
            for family in card.families:
                found[family].append(card)
        return found

    def cards_of(self, family: str) -> list[Card]:
        """The cards attached to a family, in file order."""
        return list(self._cards_by_family.get(self.family(family).id, ()))

    def family(self, ident: str) -> Family:
        """A family by id; raises :class:`UnknownRecordError` naming the id."""
        try:
            return self.families[ident]
        except KeyError:
            raise UnknownRecordError(f"no family {ident!r} in the house library") from None

    def card(self, ident: str) -> Card:
        """A card by id; raises :class:`UnknownRecordError` naming the id."""
        try:
            return self.cards[ident]
        except KeyError:
            raise UnknownRecordError(f"no card {ident!r} in the house library") from None

    def record(self, ident: str) -> Family | Card:
        """A card or a family by id (cards first)."""
        if ident in self.cards:
            return self.cards[ident]
        if ident in self.families:
            return self.families[ident]
        raise UnknownRecordError(f"no card or family {ident!r} in the house library; try `drain kb search`")

    def stats(self) -> dict[str, Any]:
        """Counts: families, fixes, cases, hazard phrasings per category, look-alikes, fixes per family."""
        per_family = [len(cards) for cards in self._cards_by_family.values()]
        phrasings = Counter(p.category for p in self.phrasings)
        return {
            "families": len(self.families),
            "fixes": len(self.cards),
            "cases": len(self.cases),
            "hazard_phrasings": {c: phrasings.get(c, 0) for c in self.knowledge.hazards.rules},
            "lookalikes": len(self.lookalikes),
            "fixes_per_family_min": min(per_family, default=0),
            "areas": len(self.areas),
            "digest": self.digest,
        }


@cache
def _load_cached(folder: str, knowledge_folder: str) -> HouseLibrary:
    from triz.knowledge import load

    return HouseLibrary(Path(folder), load(knowledge_folder))


def load_house(folder: str | os.PathLike[str] | None = None, knowledge: TrizKnowledge | None = None) -> HouseLibrary:
    """Load (once per folder) and check the house library; default: the shipped ``house/``.

    Raises :class:`triz.errors.DataFileError` naming the file and line of the first bad record.
    """
    path = find_data_dir("house", folder)
    matrix = knowledge.folder if knowledge is not None else find_data_dir("matrix")
    return _load_cached(str(path.resolve()), str(Path(matrix).resolve()))
