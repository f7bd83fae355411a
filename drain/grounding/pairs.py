"""Candidate contradictions for a problem: (improving, worsening) pairs, from four kinds of evidence.

- ``family``: the usual contradictions of the matched problem families (each with its one-line why);
- ``case``: the pairs of the nearest labelled cases, weighted by how close they are;
- ``gloss``: the parameters whose homeowner phrases are closest in meaning, with the constraints the
  homeowner named (budget -> 32, renting -> 35 ...) on the worsening side;
- ``card``: for each of those pairs, how relevant the best fix is that its matrix cell lets through (a
  contradiction is worth naming first when its principles lead to the fixes that fit).

The list is then ordered greedily so that each next pair also counts the relevant fixes its cell lets
through that the pairs before it did not (:data:`COVER`): three contradictions whose cells all admit the
same fixes show a homeowner less than three that open different ones. On the benchmark's train split,
ranking alone, whole trees: fix coverage 0.503 -> 0.527 with fix hit@5 unchanged; dev 0.628 -> 0.637 and
pair hit@3 0.467 -> 0.500 (``drain eval --backend fake --full``; 0.5 and more lost fix hit@5 on train).

Each source's evidence is scaled to 0..1 and weighted (:data:`WEIGHTS`, set on the library's dev cases and
the benchmark's train and dev splits with the library's ranking alone, ``drain eval --backend fake``: the
``card`` source took train fix hit@5 from 0.80 to 0.88 with pair hit@3 unchanged; the word lexicon and a
bonus for named constraints were tried too and earned nothing); empty cells never appear. The model then
chooses among the few best (an enum in its schema).
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
    from triz.house import HouseLibrary
    from triz.knowledge import TrizKnowledge

__all__ = ["COVER", "SOURCES", "WEIGHTS", "PairCandidate", "candidate_pairs"]

SOURCES = ("family", "case", "card", "gloss")
WEIGHTS = {"family": 1.0, "case": 0.4, "card": 2.0, "gloss": 0.25}
NEAREST_CASES = 12
NEAREST_CARDS = 8
COVER = 0.3  # weight of the fixes a pair's cell adds to those of the pairs ranked before it


@dataclass(frozen=True)
class PairCandidate:
    """A contradiction to offer: the pair, its combined score, a one-line why and where it came from."""

    improving: int
    worsening: int
    score: float
    why: str
    sources: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.improving}x{self.worsening}"


def _scaled(evidence: dict[tuple[int, int], float]) -> dict[tuple[int, int], float]:
    top = max(evidence.values(), default=0.0)
    return {pair: value / top for pair, value in evidence.items()} if top > 0 else {}


def _case_evidence(library: HouseLibrary, index: LibraryIndex, query: np.ndarray,
                   exclude_cases: Collection[str]) -> dict[tuple[int, int], float]:
    """The labelled pairs of the :data:`NEAREST_CASES` closest cases (not ``exclude_cases``), each weighted
    by the squared closeness and its place in the case's list."""
    evidence: dict[tuple[int, int], float] = defaultdict(float)
    scores = index.scores("case", query)
    taken = 0
    for row in np.argsort(-scores, kind="stable"):
        ident = index.keys["case"][row]
        if ident in exclude_cases:
            continue
        weight = max(0.0, float(scores[row])) ** 2
        for position, pair in enumerate(library.case_by_id[ident].pairs):
            evidence[(pair[0], pair[1])] += weight * (1.0 - 0.2 * position)
        taken += 1
        if taken >= NEAREST_CASES:
            break
    return evidence


def _gloss_evidence(knowledge: TrizKnowledge, index: LibraryIndex, query: np.ndarray,
                    text: str) -> dict[tuple[int, int], float]:
    """Pairs of the three parameters whose glosses are closest (improving) and the constraints the text
    names (worsening; else 32, 36 and 25: cost, complexity, time)."""
    evidence: dict[tuple[int, int], float] = defaultdict(float)
    constrained: list[int] = []
    for constraint in knowledge.lexicon.constraints(text):
        constrained += [p for p in constraint.parameters if p not in constrained]
    worsening = constrained or [32, 36, 25]
    glosses = sorted(index.best_by_key("parameter", query).items(), key=lambda item: -item[1])
    improving = [int(key) for key, _ in glosses if int(key) not in constrained][:3]
    for rank, i in enumerate(improving):
        for position, w in enumerate(worsening[:3]):
            evidence[(i, w)] += (1.0 - 0.2 * rank) * (1.0 - 0.2 * position)
    return evidence


def candidate_pairs(knowledge: TrizKnowledge, library: HouseLibrary, index: LibraryIndex, query: np.ndarray,
                    text: str, families: Iterable[FamilyMatch], *, k: int = 6,
                    sources: Collection[str] = SOURCES, exclude_cases: Collection[str] = ()) -> list[PairCandidate]:
    """The ``k`` best candidate pairs for a problem, best first."""
    evidence: dict[str, dict[tuple[int, int], float]] = {name: defaultdict(float) for name in SOURCES}
    why: dict[tuple[int, int], str] = {}
    for match in families:  # a pair several families share counts as its best family's
        for position, c in enumerate(match.family.contradictions):
            value = match.score * (1.0 - 0.15 * position)
            evidence["family"][c.pair] = max(evidence["family"][c.pair], value)
            why.setdefault(c.pair, c.why)
    evidence["case"] = _case_evidence(library, index, query, exclude_cases)
    fams = {m.family.id: m.score for m in families}
    top_family = max(fams.values(), default=1.0) or 1.0
    card_scores = dict(zip(index.keys["card"], index.scores("card", query).tolist(), strict=True))
    pool = {card.id: card for ident in fams for card in library.cards_of(ident)}
    relevance = {ident: 0.4 * max(0.0, card_scores.get(ident, 0.0))
                 + 0.5 * max(fams.get(f, 0.0) for f in card.families) / top_family for ident, card in pool.items()}
    best_cards = sorted(relevance, key=lambda ident: -relevance[ident])[:NEAREST_CARDS]
    evidence["gloss"] = _gloss_evidence(knowledge, index, query, text)
    candidates_so_far = set().union(*(evidence[name] for name in SOURCES if name != "card" and name in sources))
    admits: dict[tuple[int, int], set[str]] = {}  # the best fixes each pair's cell lets through
    for pair in candidates_so_far:
        cell = set(knowledge.matrix.principles_of(*pair))
        admits[pair] = {ident for ident in best_cards if cell & set(pool[ident].principle_ids)}
        if admits[pair]:  # how relevant the best fix is that this pair's cell lets through
            evidence["card"][pair] = max(relevance[ident] for ident in admits[pair])
    combined: dict[tuple[int, int], float] = defaultdict(float)
    origin: dict[tuple[int, int], list[str]] = defaultdict(list)
    for name in SOURCES:
        if name not in sources:
            continue
        for pair, value in _scaled(evidence[name]).items():
            combined[pair] += WEIGHTS[name] * value
            origin[pair].append(name)
    found = []
    for (i, w), score in combined.items():
        if i == w or not knowledge.matrix.principles_of(i, w):
            continue
        reason = why.get((i, w)) or _reason(knowledge, i, w)
        found.append(PairCandidate(i, w, round(score, 4), reason, tuple(origin[(i, w)])))
    found.sort(key=lambda c: (-c.score, c.improving, c.worsening))
    if "card" not in sources:
        return found[:k]
    return _covering(found, {c.key: admits[(c.improving, c.worsening)] for c in found}, relevance, k)


def _covering(found: list[PairCandidate], admits: dict[str, set[str]], relevance: dict[str, float],
              k: int) -> list[PairCandidate]:
    """The ``k`` first pairs, each next one the best by its score plus :data:`COVER` times the share of the
    relevant fixes its cell admits that the pairs chosen before it do not."""
    total = sum(relevance[ident] for ident in sorted(set().union(*admits.values()))) or 1.0
    chosen: list[PairCandidate] = []
    covered: set[str] = set()
    rest = list(found)
    while rest and len(chosen) < k:
        values = [c.score + COVER * sum(relevance[i] for i in sorted(admits[c.key] - covered)) / total for c in rest]
        best = rest[values.index(max(values))]  # the first of equals: the score order breaks ties
        chosen.append(best)
        rest.remove(best)
        covered |= admits[best.key]
    return chosen


def _reason(knowledge: TrizKnowledge, improving: int, worsening: int) -> str:
    names = knowledge.parameter_names
    return f"improving {names[improving].name.lower()} tends to cost {names[worsening].name.lower()}"
