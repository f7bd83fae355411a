"""One object that reads a problem against the house library: families, causes, hazards, pairs and cards.

>>> import triz
>>> grounder = Grounder(triz.load())
>>> found = grounder.ground("water trickles into my basement through a crack when it rains")
>>> found.families[0].family.id
'basement-seepage'
>>> [c.cause.id for c in found.causes][:1]
['wall-crack']
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drain.config import DrainConfig, load_config
from drain.grounding.cards import CardCandidate, rank_cards
from drain.grounding.clauses import clauses
from drain.grounding.families import CauseMatch, FamilyMatch, match_causes, match_families, too_close_to_call
from drain.grounding.hazards import SemanticHazards, SimilarHazard
from drain.grounding.pairs import SOURCES, PairCandidate, candidate_pairs

if TYPE_CHECKING:
    from drain.embed import Embedder
    from drain.grounding.index import LibraryIndex
    from drain.schema import Constraints
    from triz.house import HouseLibrary
    from triz.knowledge import TrizKnowledge

__all__ = ["CONFIDENT", "FAMILY_WITHIN", "Grounder", "Grounding", "shared_grounder"]

CONFIDENT = 0.42  # a family scoring less than this is not taken as what the problem is about (library dev: 95% above)
# cards come from the families scoring at least this share of the best one (fewer off-topic ideas: whole
# trees on the benchmark's train and dev splits, ranking alone, fix hit@5 0.883 -> 0.917 and 0.867 -> 0.967)
FAMILY_WITHIN = 0.9


@dataclass
class Grounding:
    """What the library says about one text: its vector, best families and causes, similar hazards."""

    text: str
    query: np.ndarray
    families: list[FamilyMatch]
    causes: list[CauseMatch]
    hazards: list[SimilarHazard]
    close_call: bool = False

    @property
    def family(self) -> FamilyMatch | None:
        """The family taken as what the problem is about, if one is confident enough."""
        return self.families[0] if self.families and self.families[0].score >= CONFIDENT else None


class Grounder:
    """The house library, its vectors and the semantic hazard check, loaded on first use."""

    def __init__(self, knowledge: TrizKnowledge, *, library: HouseLibrary | None = None,
                 index: LibraryIndex | None = None, embedder: Embedder | None = None,
                 pair_sources: Collection[str] = SOURCES, exclude_cases: Collection[str] = (),
                 cache_dir: Path | None = None) -> None:
        self.knowledge = knowledge
        self._library = library
        self._index = index
        self._embedder = embedder
        self.cache_dir = cache_dir  # the embedding model and cached vectors (None: the configured cache)
        self.pair_sources = tuple(pair_sources)
        self.exclude_cases = frozenset(exclude_cases)  # for evaluating on the library's own cases

    @cached_property
    def library(self) -> HouseLibrary:
        if self._library is None:
            from triz.house import load_house

            self._library = load_house(knowledge=self.knowledge)
        return self._library

    @cached_property
    def index(self) -> LibraryIndex:
        if self._index is None:
            from drain.grounding.index import library_index

            self._index = library_index(self.library, self._embedder, cache_dir=self.cache_dir)
        return self._index

    @cached_property
    def semantic_hazards(self) -> SemanticHazards:
        return SemanticHazards(self.library, self.index, cache_dir=self.cache_dir)

    def embed(self, text: str) -> np.ndarray:
        return self.index.embed(text)

    def ground(self, text: str, *, family: str | None = None, k: int = 3, query: np.ndarray | None = None) -> Grounding:
        """Read ``text``; ``family`` forces that family first (the homeowner's answer to a clarifying question).

        ``query``: the text's vector, when it was already embedded (many texts embed faster together).
        """
        query = self.embed(text) if query is None else query
        parts = self._clause_parts(text)
        families = match_families(self.library, self.index, query, k=k, exclude_cases=self.exclude_cases,
                                  clauses=[vector for vector, _ in parts])
        close = too_close_to_call(families)
        if family is not None:
            chosen = self.library.family(family)
            families = [m for m in families if m.family.id != chosen.id]
            top = families[0].score if families else 1.0
            families.insert(0, FamilyMatch(chosen, max(top, 1.0), chosen.says[0], {"chosen": 1.0}))
            close = False
        causes = (match_causes(self.index, query, families[0].family, self.library.cards_of(families[0].family.id))
                  if families else [])
        hazards = self.semantic_hazards.check(query, text, parts)
        return Grounding(text, query, families, causes, hazards, close)

    def hazards(self, text: str, *, query: np.ndarray | None = None) -> list[SimilarHazard]:
        """Hazard categories raised by similarity for one text (a problem, a part, an idea), read whole and
        clause by clause (:mod:`drain.grounding.clauses`); ``query``: its vector, if already embedded."""
        query = self.embed(text) if query is None else query
        return self.semantic_hazards.check(query, text, self._clause_parts(text))

    def _clause_parts(self, text: str) -> list[tuple[np.ndarray, str]]:
        """The vector and text of each of the text's clauses (none for a one-clause text), embedded together."""
        pieces = clauses(text)
        vectors = self.index.embed_all(pieces) if pieces else []
        return list(zip(vectors, pieces, strict=True))

    def pairs(self, grounding: Grounding, k: int = 6) -> list[PairCandidate]:
        """Candidate contradictions for a grounded text, best first."""
        return candidate_pairs(self.knowledge, self.library, self.index, grounding.query, grounding.text,
                               grounding.families, k=k, sources=self.pair_sources,
                               exclude_cases=self.exclude_cases)

    def cards(self, grounding: Grounding, improving: int, worsening: int, constraints: Constraints, *,
              cause: str | None = None, k: int = 6, exclude: Collection[str] = (),
              stop: Collection[str] = ()) -> list[CardCandidate]:
        """Candidate fix cards for one contradiction of a grounded text, best first (``stop``: the stop
        hazards raised for the text, whose cards are lifted: :data:`drain.grounding.cards.BOOSTS`)."""
        families = grounding.families if grounding.family is not None else grounding.families[:1]
        if families:
            families = [m for m in families if m.score >= FAMILY_WITHIN * families[0].score]
        return rank_cards(self.library, self.index, grounding.query, families, improving, worsening, constraints,
                          cause=cause, k=k, exclude=exclude, stop=stop)


_SHARED: dict[tuple[str, str, str], Grounder] = {}


def shared_grounder(knowledge: TrizKnowledge, config: DrainConfig | None = None) -> Grounder:
    """One grounder per TRIZ knowledge, house library and cache in this process (loading one takes a second
    or two); the house library and the cache are ``config``'s (None: the configured ones)."""
    config = config or load_config()
    library = config.house(knowledge)
    key = (str(knowledge.folder), library.digest, str(config.cache_dir))
    if key not in _SHARED:
        _SHARED[key] = Grounder(knowledge, library=library, cache_dir=config.cache_dir)
    return _SHARED[key]
