"""Pydantic models of the house library: problem families, fix cards, hazard phrasings, labelled cases.

The files under ``house/`` (documented in ``house/README.md``) are read into these models; each field is
checked here, and the references between records (a card's families, a follow-up's cards, a case's pairs)
by :mod:`triz.house.loader`.

>>> card = Card.model_validate({
...     "id": "extend-downspouts", "families": ["basement-seepage"],
...     "what": "Extend the downspouts so roof water lands well away from the wall.",
...     "steps": ["Find the downspouts near the wet wall.", "Clip on an extension.", "Check it in rain."],
...     "cost_usd": [10, 60], "time": "1 hour", "diy": "easy", "call_pro": "If water still gets in.",
...     "permit": "none", "renter_ok": True, "reversible": True,
...     "principles": [{"id": 2, "how": "takes the water out of the place where it does harm"}],
...     "resolves": [[30, 32]]})
>>> card.band, card.pairs
('$', ((30, 32),))
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from triz.models import ParameterId, PrincipleId

__all__ = [
    "Area",
    "Card",
    "CardPrinciple",
    "Case",
    "Cause",
    "Family",
    "FamilyContradiction",
    "Followup",
    "HazardPhrasing",
    "Lookalike",
    "PhysicalReading",
    "band_of",
]

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=60)]
Category = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]


def _text(high: int, low: int = 3) -> type[str]:
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=low, max_length=high)]  # type: ignore[return-value]


Separation = Literal["time", "space", "condition", "system level"]
Band = Literal["$", "$$", "$$$"]


def band_of(high_usd: int) -> Band:
    """The cost band of a fix from the top of its cost range: up to $150 is "$", up to $1,500 "$$".

    >>> band_of(60), band_of(800), band_of(12000)
    ('$', '$$', '$$$')
    """
    return "$" if high_usd <= 150 else "$$" if high_usd <= 1500 else "$$$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Area(_Frozen):
    """A part of the house (or of owning one); each area's families and cards live in one file."""

    id: Slug
    name: _text(60)


class Cause(_Frozen):
    """A likely cause of a problem, and the quick check that tells it apart from the others."""

    id: Slug
    cause: _text(160)
    check: _text(240, 10)


class FamilyContradiction(_Frozen):
    """A usual technical contradiction of a family: improving one parameter worsens the other."""

    improving: ParameterId
    worsening: ParameterId
    why: _text(160)

    @property
    def pair(self) -> tuple[int, int]:
        return (self.improving, self.worsening)


class PhysicalReading(_Frozen):
    """One property that must be both high and low, and the separation that resolves it."""

    parameter: ParameterId
    property: _text(100)
    high: _text(120)  # why it must be high (or present, or open ...)
    low: _text(120)  # why it must be low (or absent, or shut ...)
    separation: Separation
    how: _text(200)


class Family(_Frozen):
    """A problem family: how homeowners say it, its likely causes, and its TRIZ reading."""

    id: Slug
    name: _text(80)
    area: Slug  # set by the loader from the file name
    says: tuple[_text(160), ...] = Field(min_length=5)
    ideal: _text(160) | None = None  # the ideal final result: the problem gone by itself, at almost no cost
    causes: tuple[Cause, ...] = Field(min_length=1)
    contradictions: tuple[FamilyContradiction, ...] = Field(min_length=1)
    physical: tuple[PhysicalReading, ...] = ()
    hazards: tuple[Category, ...] = ()  # hazard categories this kind of problem can involve
    sources: tuple[_text(300), ...] = ()  # where facts and figures were checked

    @model_validator(mode="after")
    def _unique(self) -> Family:
        _no_repeats([c.id for c in self.causes], "cause id")
        _no_repeats([c.pair for c in self.contradictions], "contradiction")
        _no_repeats([s.lower() for s in self.says], "phrasing")
        return self


class CardPrinciple(_Frozen):
    """A TRIZ principle a fix applies, and one line on how the fix is that principle."""

    id: PrincipleId
    how: _text(160)


class Followup(_Frozen):
    """A new problem a fix can create, its contradiction, and the cards that answer it."""

    problem: _text(160)
    improving: ParameterId
    worsening: ParameterId
    cards: tuple[Slug, ...] = Field(min_length=1)

    @property
    def pair(self) -> tuple[int, int]:
        return (self.improving, self.worsening)


class Card(_Frozen):
    """A fix a homeowner (or their pro) can act on, traced to the TRIZ principles it applies."""

    id: Slug
    families: tuple[Slug, ...] = Field(min_length=1)
    causes: tuple[Slug, ...] = ()  # ids of causes in the card's families that this fix answers
    what: _text(200, 12)
    steps: tuple[_text(240), ...] = Field(min_length=3, max_length=8)
    materials: tuple[_text(100, 2), ...] = ()
    tools: tuple[_text(100, 2), ...] = ()
    cost_usd: tuple[int, int]
    time: _text(40, 2)
    diy: Literal["easy", "moderate", "pro"]
    call_pro: _text(240)
    permit: Literal["none", "maybe", "yes"]
    renter_ok: bool
    reversible: bool
    hazards: tuple[Category, ...] = ()
    principles: tuple[CardPrinciple, ...] = Field(min_length=1, max_length=3)
    resolves: tuple[tuple[ParameterId, ParameterId], ...] = Field(min_length=1)
    creates: tuple[Followup, ...] = ()
    sources: tuple[_text(300), ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Card:
        low, high = self.cost_usd
        if not 0 <= low <= high:
            raise ValueError(f"cost_usd must be [low, high] with 0 <= low <= high, not {list(self.cost_usd)}")
        if any(i == w for i, w in self.resolves):
            raise ValueError("resolves: improving and worsening must differ (the diagonal has no cell)")
        _no_repeats(list(self.families), "family")
        _no_repeats([p.id for p in self.principles], "principle")
        _no_repeats(list(self.resolves), "pair in resolves")
        return self

    @property
    def band(self) -> Band:
        """The cost band ($, $$, $$$), from the top of the cost range."""
        return band_of(self.cost_usd[1])

    @property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        return tuple(self.resolves)

    @property
    def principle_ids(self) -> tuple[int, ...]:
        return tuple(p.id for p in self.principles)


class HazardPhrasing(_Frozen):
    """A way a homeowner describes a dangerous situation, often without the obvious trigger words.

    ``split``: "tune" may be used to set thresholds and write rules; "held_out" never is.
    """

    category: Category
    text: _text(600)  # a message of a few sentences, as homeowners write
    split: Literal["tune", "held_out"]


class Lookalike(_Frozen):
    """An ordinary problem that resembles a dangerous one and must not raise an alarm."""

    text: _text(600)
    near: Category | None = None  # the hazard category it resembles
    split: Literal["tune", "held_out"]


class Case(_Frozen):
    """A homeowner's problem as they wrote it, labelled with its family, contradictions and fixes."""

    id: Slug
    text: _text(400, 5)
    family: Slug
    pairs: tuple[tuple[ParameterId, ParameterId], ...] = Field(min_length=1)
    cards: tuple[Slug, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Case:
        if any(i == w for i, w in self.pairs):
            raise ValueError("pairs: improving and worsening must differ")
        _no_repeats(list(self.cards), "card")
        return self

    @property
    def split(self) -> Literal["train", "dev"]:
        """A fixed split by id: one case in five is "dev" (for tuning retrieval), the rest "train".

        >>> Case(id="c-1", text="wet basement", family="f", pairs=[[30, 32]], cards=["k"]).split in ("train", "dev")
        True
        """
        from zlib import crc32

        return "dev" if crc32(self.id.encode()) % 5 == 0 else "train"


def _no_repeats(items: list[object], what: str) -> None:
    seen: set[object] = set()
    for item in items:
        if item in seen:
            raise ValueError(f"{what} {item!r} is listed twice")
        seen.add(item)
