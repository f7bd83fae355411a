"""Quality gates of the house library: the counts it promises, coverage, and what no loader check sees.

A library that loads is consistent (every id resolves, every card is traced to a matrix cell); these
gates say whether it is *enough* and *clean*: families with few cards, contradictions no card answers,
principles no card applies, near-duplicate cards, cards whose text touches a stop hazard they do not
carry, and labelled text that leaks from protected benchmark problems.

>>> similarity("Extend the downspouts away from the wall", "extend downspouts away from the walls")
1.0
>>> similarity("seal the crack", "paint the fence") == 0.0
True
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

from triz.text import content_stems

if TYPE_CHECKING:
    from triz.house import HouseLibrary

__all__ = [
    "MINIMUMS",
    "QualityReport",
    "closest_pairs",
    "find_leaks",
    "quality_report",
    "similarity",
]

# What the library promises (the house-library issue); a report lists every shortfall.
MINIMUMS = {
    "families": 150,
    "fixes": 1200,
    "cases": 1500,
    "cards_per_family": 4,
    "phrasings_per_category": 30,
    "held_out_per_category": 10,
    "lookalikes": 100,
    "held_out_lookalikes": 30,
}
NEAR_DUPLICATE = 0.75  # content-word Jaccard of two cards' "what" at or above which they are near-duplicates
LEAK = 0.8  # the same for a labelled text against a protected benchmark problem


def similarity(first: str, second: str) -> float:
    """Jaccard overlap of the content-word stems of two texts (0..1)."""
    a, b = content_stems(first), content_stems(second)
    return len(a & b) / len(a | b) if a and b else 0.0


def closest_pairs(texts: dict[str, str], top: int = 10) -> list[tuple[float, str, str]]:
    """The ``top`` most similar pairs of texts (by id), most similar first.

    Only pairs sharing at least one content word are compared, so this stays fast for thousands of texts.
    """
    stems = {ident: content_stems(text) for ident, text in texts.items()}
    by_word: dict[str, list[str]] = {}
    for ident, words in stems.items():
        for word in words:
            by_word.setdefault(word, []).append(ident)
    seen: set[tuple[str, str]] = set()
    scored: list[tuple[float, str, str]] = []
    for idents in by_word.values():
        if len(idents) > 400:  # a word on hundreds of cards ("water") says nothing about duplicates
            continue
        for a, b in combinations(idents, 2):
            key = (a, b) if a < b else (b, a)
            if key in seen:
                continue
            seen.add(key)
            union = stems[a] | stems[b]
            scored.append((round(len(stems[a] & stems[b]) / len(union), 3), *key))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    return scored[:top]


def find_leaks(texts: dict[str, str], protected: Sequence[str],
               threshold: float = LEAK) -> list[tuple[str, str, float]]:
    """Texts (by id) equal or nearly equal to a protected text: ``(id, protected text, similarity)``."""
    normal = {" ".join(p.lower().split()): p for p in protected}
    guarded = [(p, content_stems(p)) for p in protected]
    leaks = []
    for ident, text in texts.items():
        if " ".join(text.lower().split()) in normal:
            leaks.append((ident, normal[" ".join(text.lower().split())], 1.0))
            continue
        words = content_stems(text)
        for original, other in guarded:
            if words and other:
                score = len(words & other) / len(words | other)
                if score >= threshold:
                    leaks.append((ident, original, round(score, 3)))
                    break
    return leaks


@dataclass
class QualityReport:
    """Counts, coverage and every shortfall found; ``ok`` when there is none."""

    counts: dict[str, object]
    cards_per_family: dict[str, int]
    cards_per_principle: dict[int, int]
    closest: list[tuple[float, str, str]]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _where(library: HouseLibrary, kind: str, ident: str) -> str:
    path, line = library.where.get((kind, ident), (library.folder, 0))
    return f"{path.name}, line {line}" if line else path.name


def quality_report(library: HouseLibrary, *, minimums: dict[str, int] | None = None,
                   protected: Iterable[str] = ()) -> QualityReport:
    """Measure the library against ``minimums`` (default :data:`MINIMUMS`) and the quality gates.

    ``protected``: problem texts (the benchmark's dev and test problems) that no case or family phrasing
    may equal or nearly equal.
    """
    wanted = {**MINIMUMS, **(minimums or {})}
    stats = library.stats()
    per_family = {ident: len(library.cards_of(ident)) for ident in library.families}
    per_principle = Counter(p for card in library.cards.values() for p in card.principle_ids)
    closest = closest_pairs({ident: card.what for ident, card in library.cards.items()}, top=10)
    problems = [*_count_problems(library, stats, wanted), *_card_problems(library, wanted, per_family, per_principle),
                *(f"cards {a} and {b} are near-duplicates (similarity {score}): merge them or tell them apart"
                  for score, a, b in closest if score >= NEAR_DUPLICATE),
                *_leak_problems(library, list(protected))]
    return QualityReport(
        counts=stats, cards_per_family=per_family,
        cards_per_principle={p: per_principle[p] for p in range(1, 41)}, closest=closest, problems=problems,
    )


def _count_problems(library: HouseLibrary, stats: dict[str, Any], wanted: dict[str, int]) -> list[str]:
    """The counts below their minimums: records, hazard phrasings per category, held-out ones, look-alikes."""
    problems: list[str] = []
    for name in ("families", "fixes", "cases", "lookalikes"):
        if stats[name] < wanted[name]:
            problems.append(f"{name}: {stats[name]}, at least {wanted[name]} wanted")
    held_out = Counter(p.category for p in library.phrasings if p.split == "held_out")
    for category, count in stats["hazard_phrasings"].items():
        if count < wanted["phrasings_per_category"]:
            problems.append(f"hazard phrasings for {category}: {count}, "
                            f"at least {wanted['phrasings_per_category']} wanted")
        if held_out[category] < wanted["held_out_per_category"]:
            problems.append(f"held-out phrasings for {category}: {held_out[category]}, "
                            f"at least {wanted['held_out_per_category']} wanted")
    held_look = sum(1 for item in library.lookalikes if item.split == "held_out")
    if held_look < wanted["held_out_lookalikes"]:
        problems.append(f"held-out look-alikes: {held_look}, at least {wanted['held_out_lookalikes']} wanted")
    return problems


def _card_problems(library: HouseLibrary, wanted: dict[str, int], per_family: dict[str, int],
                   per_principle: Counter[int]) -> list[str]:
    """Families short of cards or of a card for a contradiction's cell, principles no card applies, cards
    that name stop-hazard work without saying so."""
    problems: list[str] = []
    for ident, count in per_family.items():
        if count < wanted["cards_per_family"]:
            problems.append(f"family {ident} ({_where(library, 'family', ident)}): {count} cards, "
                            f"at least {wanted['cards_per_family']} wanted")
    matrix = library.knowledge.matrix
    for family in library.families.values():
        cards = library.cards_of(family.id)
        for c in family.contradictions:
            cell = set(matrix.principles_of(c.improving, c.worsening))
            if not any(cell & set(card.principle_ids) for card in cards):
                problems.append(f"family {family.id} ({_where(library, 'family', family.id)}): no card applies a "
                                f"principle of its contradiction's cell {c.improving}x{c.worsening} {sorted(cell)}")
    unused = [p for p in range(1, 41) if not per_principle[p]]
    if unused:
        problems.append(f"principles no card applies: {unused}")
    rules = library.knowledge.hazards
    for card in library.cards.values():
        for match in rules.check_work(card.what):
            if match.severity == "stop" and (match.category not in card.hazards or card.diy != "pro"):
                problems.append(f"card {card.id} ({_where(library, 'card', card.id)}): it names stop-hazard work "
                                f"({match.category}: {', '.join(match.matched)}); list it and make diy \"pro\"")
    return problems


def _leak_problems(library: HouseLibrary, protected: list[str]) -> list[str]:
    """Texts that repeat what they must not: a case its family's phrasing, a held-out phrasing a tuning one,
    a case or phrasing a protected (benchmark) problem."""
    problems: list[str] = []
    for case in library.cases:
        family = library.families.get(case.family)
        for _, said, score in find_leaks({case.id: case.text}, family.says if family else ()):
            problems.append(f"case {case.id} ({_where(library, 'case', case.id)}) repeats its family's phrasing "
                            f"{said!r} ({score}): a case must be worded afresh")
    tune = [p.text for p in library.phrasings if p.split == "tune"]
    held = {f"held-out phrasing {n}": p.text for n, p in enumerate(library.phrasings) if p.split == "held_out"}
    for ident, original, score in find_leaks(held, tune):
        problems.append(f"{ident} nearly repeats the tuning phrasing {original!r} ({score})")
    if protected:
        texts = {case.id: case.text for case in library.cases}
        texts |= {f"{f.id} says[{n}]": said for f in library.families.values() for n, said in enumerate(f.says)}
        for ident, original, score in find_leaks(texts, protected):
            problems.append(f"{ident} equals or nearly equals the protected problem {original!r} ({score})")
    return problems
