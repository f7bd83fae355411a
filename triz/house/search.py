"""Find fix cards for a homeowner's words by word overlap and the lexicon (no model, no vectors).

Each card is indexed by what it says, its steps, and the names and phrasings of its families; a query's
content words are weighted by how rare they are (BM25), and a card gains a little when the lexicon reads
the query as the parameter the card improves. The grounded planner ranks by meaning instead; this is the
quick, dependency-free search behind ``drain kb search``.

>>> from triz.house import load_house
>>> hits = search_cards(load_house(), "water coming through a crack in the basement wall", limit=5)
>>> "hydraulic-cement-crack" in [hit.card.id for hit in hits]
True
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from triz.text import content_stems, stems

if TYPE_CHECKING:
    from triz.house import HouseLibrary
    from triz.house.models import Card

__all__ = ["CardHit", "search_cards"]

_K1, _B = 1.2, 0.75
_LEXICON_BONUS = 0.15


@dataclass(frozen=True)
class CardHit:
    """A card found for a query, with its score and the query words it shares."""

    card: Card
    family: str
    score: float
    matched: tuple[str, ...]


@dataclass(frozen=True)
class _Index:
    terms: dict[str, Counter[str]]  # card id -> stem counts
    lengths: dict[str, int]
    document_frequency: Counter[str]
    average_length: float


def _card_text(library: HouseLibrary, card: Card) -> list[str]:
    parts = [card.what, card.what, *card.steps]
    for ident in card.families:
        family = library.families[ident]
        parts += [family.name, *family.says]
    return [word for part in parts for word in stems(part)]


@cache
def _index(library: HouseLibrary) -> _Index:
    terms = {ident: Counter(_card_text(library, card)) for ident, card in library.cards.items()}
    lengths = {ident: sum(counts.values()) for ident, counts in terms.items()}
    frequency: Counter[str] = Counter()
    for counts in terms.values():
        frequency.update(counts.keys())
    average = sum(lengths.values()) / max(1, len(lengths))
    return _Index(terms, lengths, frequency, average)


def search_cards(library: HouseLibrary, text: str, limit: int = 10) -> list[CardHit]:
    """The ``limit`` best cards for ``text``, best first (ties by id); ``[]`` when no word is shared."""
    index = _index(library)
    wanted = content_stems(text)
    total = len(index.terms)
    improving = {c.id for c in library.knowledge.candidates(text, k=3)}
    hits = []
    for ident, counts in index.terms.items():
        score, matched = 0.0, []
        for word in wanted:
            tf = counts.get(word, 0)
            if not tf:
                continue
            df = index.document_frequency[word]
            idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
            norm = tf + _K1 * (1 - _B + _B * index.lengths[ident] / index.average_length)
            score += idf * tf * (_K1 + 1) / norm
            matched.append(word)
        if not matched:
            continue
        card = library.cards[ident]
        if improving & {i for i, _ in card.resolves}:
            score *= 1 + _LEXICON_BONUS
        hits.append(CardHit(card, card.families[0], round(score, 3), tuple(sorted(matched))))
    hits.sort(key=lambda hit: (-hit.score, hit.card.id))
    return hits[:limit]
