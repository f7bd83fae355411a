"""Hazards by meaning: a problem, a part of it or an idea that is *like* a known dangerous situation.

The rules of ``matrix/hazards.toml`` stay the floor (nothing they flag is ever cleared); this check adds a
category when the text is close to the library's phrasings of that danger and not closer to an ordinary
look-alike problem. For a category ``c`` with best similarity ``s_c`` to its phrasings and best similarity
``s_look`` to the look-alikes, the category is raised when

    s_c >= threshold[c]   and   s_c >= s_look - margin

The thresholds and the margin are set from the *tune* split alone, by leave-one-out (each phrasing is
scored against the others): the most recall on the tune phrasings for which the false alarms on the tune
look-alikes stay within :data:`FALSE_ALARM_BUDGET`. The held-out split is never seen here:
``bench/bench_hazards.py`` measures the check on it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from drain.grounding.index import LibraryIndex
    from triz.house import HouseLibrary

__all__ = ["HazardTuning", "SemanticHazards", "SimilarHazard", "tune"]

FALSE_ALARM_BUDGET = 0.05  # the share of tune look-alikes the check may flag
THRESHOLDS = tuple(round(0.40 + 0.01 * n, 2) for n in range(51))
MARGINS = (1.0, 0.1, 0.05, 0.0, -0.05)


@dataclass(frozen=True)
class SimilarHazard:
    """A hazard category raised by similarity: the score and the known situation it resembles."""

    category: str
    score: float
    similar_to: str


@dataclass
class HazardTuning:
    """Thresholds per category and the look-alike margin, with what they achieved on the tune split."""

    thresholds: dict[str, float]
    margin: float
    tune_recall: dict[str, float] = field(default_factory=dict)
    tune_false_alarms: float = 0.0


def _rows(index: LibraryIndex, kind: str) -> tuple[np.ndarray, list[str]]:
    return index.vectors[kind], index.keys[kind]


def tune(index: LibraryIndex, severity: dict[str, str]) -> HazardTuning:
    """Set one threshold and the margin from the tune split by leave-one-out (see the module's docstring)."""
    vectors, keys = _rows(index, "hazard")
    looks, _ = _rows(index, "lookalike")
    categories = sorted(set(keys))
    if not categories:
        return HazardTuning({}, 0.0)
    code = np.array([categories.index(k) for k in keys])
    among = vectors @ vectors.T
    np.fill_diagonal(among, -2.0)  # leave one out
    own = np.array([among[i, code == code[i]].max() for i in range(len(keys))])
    to_look = (vectors @ looks.T).max(axis=1) if len(looks) else np.full(len(keys), -2.0)
    look_hazard = looks @ vectors.T if len(looks) else np.zeros((0, len(keys)))
    look_best = np.stack([look_hazard[:, code == c].max(axis=1) for c in range(len(categories))], axis=1)
    look_among = looks @ looks.T
    np.fill_diagonal(look_among, -2.0)
    look_self = look_among.max(axis=1) if len(looks) > 1 else np.full(len(looks), -2.0)
    best: tuple[float, float, float, dict[str, float]] | None = None
    for margin in MARGINS:
        for threshold in THRESHOLDS:
            admitted = (own >= threshold) & (own >= to_look - margin)
            alarms = ((look_best >= threshold) & (look_best >= look_self[:, None] - margin)).any(axis=1)
            rate = float(alarms.mean()) if len(looks) else 0.0
            if rate > FALSE_ALARM_BUDGET:
                continue
            recall = float(admitted.mean())
            if best is None or recall > best[0]:
                per = {c: round(float(admitted[code == n].mean()), 3) for n, c in enumerate(categories)}
                best = (recall, threshold, margin, per)
                best_rate = rate
    if best is None:  # nothing keeps within the budget: raise nothing by similarity
        return HazardTuning(dict.fromkeys(categories, 2.0), 0.0)
    recall, threshold, margin, per = best
    return HazardTuning(dict.fromkeys(categories, threshold), margin, per, round(best_rate, 4))


class SemanticHazards:
    """Raise hazard categories for texts like the library's dangerous situations."""

    def __init__(self, library: HouseLibrary, index: LibraryIndex, tuning: HazardTuning | None = None) -> None:
        self.index = index
        severity = {name: rule.severity for name, rule in library.knowledge.hazards.rules.items()}
        self.tuning = tuning or tune(index, severity)
        keys = index.keys["hazard"]
        self._rows: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(0, dtype=int))
        for c in set(keys):
            self._rows[c] = np.array([i for i, k in enumerate(keys) if k == c])

    def check(self, query: np.ndarray) -> list[SimilarHazard]:
        """The categories a query vector raises, most similar first."""
        scores = self.index.scores("hazard", query)
        looks = self.index.scores("lookalike", query)
        look = float(looks.max()) if len(looks) else -2.0
        found = []
        for category, threshold in self.tuning.thresholds.items():
            rows = self._rows[category]
            if not len(rows):
                continue
            best = int(rows[np.argmax(scores[rows])])
            score = float(scores[best])
            if score >= threshold and score >= look - self.tuning.margin:
                found.append(SimilarHazard(category, round(score, 3), self.index.texts["hazard"][best]))
        found.sort(key=lambda h: -h.score)
        return found
