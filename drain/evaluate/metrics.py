"""Metric functions, each on plain lists so they can be checked by hand.

Pairs are (improving, worsening) tuples. A predicted pair counts as correct when it equals a
reference pair in that order, except in the TRIZBENCH-style parameter score, which is unordered.

>>> pair_hit_at_k([(30, 32), (30, 25)], [(30, 25)], 1), pair_hit_at_k([(30, 32), (30, 25)], [(30, 25)], 3)
(0.0, 1.0)
>>> param_score((32, 30), [(30, 32)]), param_score((30, 25), [(30, 32)]), param_score((1, 2), [(30, 32)])
(30.0, 15.0, 0.0)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "consistency",
    "f1",
    "fix_coverage",
    "fix_hit_at_k",
    "fix_matches",
    "hit_at_1_side",
    "pair_counts",
    "pair_hit_at_k",
    "param_score",
    "principle_hit_at_k",
    "set_counts",
]

Pair = tuple[int, int]


def pair_hit_at_k(predicted: Sequence[Pair], reference: Sequence[Pair], k: int) -> float:
    """1.0 when one of the first ``k`` predicted pairs equals a reference pair (in order), else 0.0."""
    wanted = {tuple(p) for p in reference}
    return 1.0 if any(tuple(p) in wanted for p in predicted[:k]) else 0.0


def pair_counts(predicted: Sequence[Pair], reference: Sequence[Pair]) -> tuple[int, int, int]:
    """(correct predicted pairs, predicted pairs, reference pairs) for TRIZ-GPT-style precision/recall.

    >>> pair_counts([(30, 32), (30, 32), (1, 2)], [(30, 32), (30, 25)])
    (1, 2, 2)
    """
    unique = list(dict.fromkeys(tuple(p) for p in predicted))
    wanted = {tuple(p) for p in reference}
    return sum(1 for p in unique if p in wanted), len(unique), len(wanted)


def hit_at_1_side(predicted: Sequence[Pair], reference: Sequence[Pair], side: int) -> float:
    """Whether the top pair's improving (side 0) or worsening (side 1) parameter is a reference one's.

    >>> hit_at_1_side([(30, 36)], [(30, 32)], 0), hit_at_1_side([(30, 36)], [(30, 32)], 1)
    (1.0, 0.0)
    >>> hit_at_1_side([], [(30, 32)], 0)
    0.0
    """
    if not predicted:
        return 0.0
    return 1.0 if predicted[0][side] in {p[side] for p in reference} else 0.0


def param_score(predicted: Pair | None, reference: Sequence[Pair]) -> float:
    """TRIZBENCH-style score of the top pair: 30 for the exact unordered pair, 15 for one shared parameter."""
    if predicted is None or not reference:
        return 0.0
    best = 0.0
    for ref in reference:
        shared = len(set(predicted) & set(ref))
        if set(predicted) == set(ref):
            return 30.0
        if shared:
            best = 15.0
    return best


def principle_hit_at_k(predicted: Sequence[int], reference: Sequence[int], k: int = 3) -> float:
    """1.0 when one of the first ``k`` predicted principles is a reference principle.

    >>> principle_hit_at_k([35, 10, 2, 24], [24, 2], 3), principle_hit_at_k([35, 10], [24], 3)
    (1.0, 0.0)
    """
    return 1.0 if set(predicted[:k]) & set(reference) else 0.0


def set_counts(predicted: Sequence[object], reference: Sequence[object]) -> tuple[int, int, int]:
    """(true positives, predicted, reference) over distinct items.

    >>> set_counts(["gas", "fire"], ["gas"])
    (1, 2, 1)
    """
    found, wanted = set(predicted), set(reference)
    return len(found & wanted), len(found), len(wanted)


def f1(predicted: Sequence[object], reference: Sequence[object]) -> float:
    """F1 of two sets; 1.0 when both are empty, 0.0 when only one is.

    >>> round(f1([35, 10, 2], [24, 35, 2]), 3), f1([], []), f1([1], [])
    (0.667, 1.0, 0.0)
    """
    hits, found, wanted = set_counts(predicted, reference)
    if found == 0 and wanted == 0:
        return 1.0
    if hits == 0:
        return 0.0
    precision, recall = hits / found, hits / wanted
    return 2 * precision * recall / (precision + recall)


def consistency(top_pairs: Sequence[Pair | None]) -> float:
    """AutoTRIZ style: the share of runs whose top pair is the most common top pair (no pair counts as one).

    >>> consistency([(30, 32), (30, 32), (30, 25)])
    0.667
    >>> consistency([None, None]), consistency([])
    (1.0, 0.0)
    """
    if not top_pairs:
        return 0.0
    modal = Counter(top_pairs).most_common(1)[0][1]
    return round(modal / len(top_pairs), 3)


def fix_matches(idea: Mapping[str, Any], fix: Mapping[str, Any]) -> bool:
    """Whether an idea (``{"card", "text"}``) is a reference fix (``{"card", "patterns"}``): the same card,
    or its text matches one of the fix's patterns (case-insensitive regular expressions).

    >>> fix = {"card": "extend-downspouts", "patterns": [r"extend.{0,20}downspout"]}
    >>> fix_matches({"card": "extend-downspouts", "text": ""}, fix)
    True
    >>> fix_matches({"card": None, "text": "Extend the downspouts 6 feet"}, fix)
    True
    >>> fix_matches({"card": "regrade-soil-away", "text": "Slope the soil away"}, fix)
    False
    """
    if fix.get("card") and idea.get("card") == fix["card"]:
        return True
    text = idea.get("text") or ""
    return any(re.search(pattern, text, re.IGNORECASE) for pattern in fix.get("patterns", ()))


def fix_hit_at_k(ideas: Sequence[Mapping[str, Any]], fixes: Sequence[Mapping[str, Any]], k: int = 5) -> float:
    """1.0 when one of the first ``k`` ideas is a reference fix."""
    return 1.0 if any(fix_matches(idea, fix) for idea in ideas[:k] for fix in fixes) else 0.0


def fix_coverage(ideas: Sequence[Mapping[str, Any]], fixes: Sequence[Mapping[str, Any]]) -> float:
    """The share of reference fixes that some idea of the tree is (0 when there are none).

    >>> fixes = [{"card": "a", "patterns": []}, {"card": "b", "patterns": []}]
    >>> fix_coverage([{"card": "b", "text": ""}], fixes)
    0.5
    """
    if not fixes:
        return 0.0
    return sum(1 for fix in fixes if any(fix_matches(idea, fix) for idea in ideas)) / len(fixes)
