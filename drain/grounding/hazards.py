"""Hazards by meaning: a problem, a part of it or an idea that is *like* a known dangerous situation.

The rules of ``matrix/hazards.toml`` stay the floor (nothing they flag is ever cleared); this check adds a
category when the text is close to the library's phrasings of that danger and not closer to an ordinary
look-alike problem. For a category ``c`` with best similarity ``s_c`` to its phrasings and best similarity
``s_look`` to the look-alikes, the category is raised when

    s_c >= threshold[c]   and   s_c >= s_look - margin

The thresholds and the margin are set from the *tune* split alone, by leave-one-out (each phrasing is
scored against the others), for full recall on stop-severity categories and at least 97% on the others
with as few false alarms on the tune look-alikes as that allows. The held-out split is never seen here:
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

STOP_RECALL = 1.0
CAUTION_RECALL = 0.97
SAFETY = 0.02  # thresholds sit this far below the lowest tune score they must admit
MARGINS = (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 1.0)


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
    """Set the thresholds and the margin from the tune split by leave-one-out (see the module's docstring)."""
    vectors, keys = _rows(index, "hazard")
    looks, _ = _rows(index, "lookalike")
    categories = sorted(set(keys))
    if not categories:
        return HazardTuning({}, 0.0)
    by_category = {c: np.array([i for i, k in enumerate(keys) if k == c]) for c in categories}
    among = vectors @ vectors.T
    np.fill_diagonal(among, -2.0)  # leave one out
    own = np.array([among[i, by_category[keys[i]]].max() if len(by_category[keys[i]]) > 1 else -2.0
                    for i in range(len(keys))])
    to_look = (vectors @ looks.T).max(axis=1) if len(looks) else np.full(len(keys), -2.0)
    look_to_hazard = looks @ vectors.T if len(looks) else np.zeros((0, len(keys)))
    look_best = {c: look_to_hazard[:, by_category[c]].max(axis=1) for c in categories}
    look_among = looks @ looks.T
    np.fill_diagonal(look_among, -2.0)
    look_self = look_among.max(axis=1) if len(looks) > 1 else np.full(len(looks), -2.0)

    options: list[tuple[bool, float, HazardTuning]] = []
    for margin in MARGINS:
        thresholds, recall, reached = {}, {}, True
        for c in categories:
            rows = by_category[c]
            admitted = np.sort(own[rows][own[rows] >= to_look[rows] - margin])
            wanted = STOP_RECALL if severity.get(c) == "stop" else CAUTION_RECALL
            need = int(np.ceil(wanted * len(rows)))
            if len(admitted) < need:  # this margin rejects too many phrasings of c whatever the threshold
                thresholds[c], recall[c], reached = -1.0, len(admitted) / len(rows), False
                continue
            thresholds[c] = float(admitted[len(admitted) - need]) - SAFETY
            recall[c] = need / len(rows)
        alarms = np.zeros(len(looks), dtype=bool)
        for c in categories:
            alarms |= (look_best[c] >= thresholds[c]) & (look_best[c] >= look_self - margin)
        rate = float(alarms.mean()) if len(looks) else 0.0
        options.append((not reached, rate, HazardTuning(thresholds, margin, recall, round(rate, 4))))
    return min(options, key=lambda option: (option[0], option[1], option[2].margin))[2]


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
