"""Which problem families a homeowner's words belong to, by meaning: the grounded planner's first step.

A family scores by three kinds of evidence, each a cosine similarity of unit vectors: how close the problem
is to the ways homeowners say that family, the votes of the nearest labelled cases (weighted by closeness),
and the closest of the family's fix cards. The weights were set on the library's dev split of cases
(``bench/bench_retrieval.py``); no benchmark problem was used.

A message of several clauses (:mod:`drain.grounding.clauses`) is also read clause by clause: a family's
score is the mean of its whole-text score and the better of that and its best clause's
(:data:`CLAUSE_WEIGHT`), so "we just moved into a 1950s ranch with old carpet and dark paneling we hate;
also the toilet runs for a few seconds every hour" is about the running toilet. On the
benchmark's train split, ranking alone, fix hit@5 0.917 -> 0.950 and coverage 0.550 -> 0.560; dev 0.933
and 0.587 -> 0.607 (weights 0.3 and 0.7 did no better; bench/RESULTS.md section 16).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from drain.grounding.index import LibraryIndex
    from triz.house import HouseLibrary
    from triz.house.models import Card, Cause, Family

__all__ = ["CAUSE_CARDS", "CLAUSE_WEIGHT", "WEIGHTS", "CauseMatch", "FamilyMatch", "match_causes", "match_families",
           "too_close_to_call"]

WEIGHTS = {"says": 0.65, "cases": 0.1, "cards": 0.25}
NEAREST_CASES = 10
CLAUSE_WEIGHT = 0.5  # share of a family's score given to the better of the whole text and its best clause
CLOSE_CALL = 0.03  # top two families nearer than this (and both plausible): ask which one it is
# a cause's score adds this times the closeness of its nearest card: on the library's cases, the top cause is one
# of the labelled cards' causes for 0.706 of dev cases by the cause's words alone, 0.787 at 0.5, 0.832 at 1.0
# (train 0.736, 0.805, 0.829; bench/RESULTS.md section 22)
CAUSE_CARDS = 1.0


@dataclass(frozen=True)
class FamilyMatch:
    """A family the problem may belong to, its score (0..1) and the closest way homeowners say it."""

    family: Family
    score: float
    said: str
    evidence: dict[str, float]


@dataclass(frozen=True)
class CauseMatch:
    """A likely cause of the matched family, and how close the problem's words are to it."""

    family: Family
    cause: Cause
    score: float


def _case_votes(library: HouseLibrary, index: LibraryIndex, query: np.ndarray,
                exclude: Collection[str]) -> dict[str, float]:
    scores = index.scores("case", query).copy()
    if exclude:
        for row, key in enumerate(index.keys["case"]):
            if key in exclude:
                scores[row] = -2.0
    votes: dict[str, float] = defaultdict(float)
    top = np.argsort(-scores, kind="stable")[:NEAREST_CASES]
    total = 0.0
    for row in top:
        weight = max(0.0, float(scores[row])) ** 2
        votes[library.case_by_id[index.keys["case"][row]].family] += weight
        total += weight
    return {family: vote / total for family, vote in votes.items()} if total else {}


def match_families(library: HouseLibrary, index: LibraryIndex, query: np.ndarray, *, k: int = 3,
                   exclude_cases: Collection[str] = (), clauses: Sequence[np.ndarray] = ()) -> list[FamilyMatch]:
    """The ``k`` most likely families for a query vector, best first.

    ``exclude_cases``: case ids to leave out of the votes (a case being evaluated must not vote for itself).
    ``clauses``: the vectors of the text's clauses, if it has several (:data:`CLAUSE_WEIGHT`).
    """
    found = _scored(library, index, query, exclude_cases)
    if clauses:
        best: dict[str, float] = defaultdict(float)
        for vector in clauses:
            for match in _scored(library, index, vector, exclude_cases):
                best[match.family.id] = max(best[match.family.id], match.score)
        found = [replace(m, score=round((1 - CLAUSE_WEIGHT) * m.score
                                        + CLAUSE_WEIGHT * max(m.score, best[m.family.id]), 4)) for m in found]
    found.sort(key=lambda m: (-m.score, m.family.id))
    return found[:k]


def _scored(library: HouseLibrary, index: LibraryIndex, query: np.ndarray,
            exclude_cases: Collection[str]) -> list[FamilyMatch]:
    says = index.best_by_key("family", query)
    votes = _case_votes(library, index, query, exclude_cases)
    card_best = index.best_by_key("card", query)
    nearest_said: dict[str, tuple[float, str]] = {}
    for key, text, score in zip(index.keys["family"], index.texts["family"],
                                index.scores("family", query).tolist(), strict=True):
        if score > nearest_said.get(key, (-2.0, ""))[0]:
            nearest_said[key] = (score, text)
    found = []
    for ident, family in library.families.items():
        cards = max((card_best.get(card.id, 0.0) for card in library.cards_of(ident)), default=0.0)
        evidence = {"says": round(says.get(ident, 0.0), 4), "cases": round(votes.get(ident, 0.0), 4),
                    "cards": round(cards, 4)}
        score = sum(WEIGHTS[name] * value for name, value in evidence.items())
        found.append(FamilyMatch(family, round(score, 4), nearest_said.get(ident, (0.0, ""))[1], evidence))
    return found


def too_close_to_call(matches: list[FamilyMatch]) -> bool:
    """True when the two best families are nearly tied: a clarifying question is worth asking."""
    return len(matches) >= 2 and matches[0].score - matches[1].score < CLOSE_CALL


def match_causes(index: LibraryIndex, query: np.ndarray, family: Family,
                 cards: Iterable[Card]) -> list[CauseMatch]:
    """The family's causes, most likely first: how close the problem's words are to the cause, plus
    :data:`CAUSE_CARDS` times how close they are to the nearest of the family's ``cards`` made for that
    cause (the words of a problem often name the remedy's part: "sliding door" is in the rollers card).
    """
    scores = dict(zip(index.keys["cause"], index.scores("cause", query).tolist(), strict=True))
    similar = dict(zip(index.keys["card"], index.scores("card", query).tolist(), strict=True))
    nearest: dict[str, float] = {}
    for card in cards:
        for cause in card.causes:
            nearest[cause] = max(nearest.get(cause, 0.0), similar.get(card.id, 0.0))
    ranked = [CauseMatch(family, cause, round(scores.get(f"{family.id}/{cause.id}", 0.0)
                                              + CAUSE_CARDS * max(0.0, nearest.get(cause.id, 0.0)), 4))
              for cause in family.causes]
    ranked.sort(key=lambda m: -m.score)
    return ranked
