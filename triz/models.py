"""Pydantic models of the TRIZ knowledge: parameters, principles, matrix cells and the home-specific data.

>>> Cell(improving=30, worsening=32, principles=(24, 35, 2)).key
(30, 32)
>>> from pydantic import ValidationError
>>> try:
...     Cell(improving=3, worsening=3, principles=(1,))
... except ValidationError as err:
...     print(err.errors()[0]["msg"])
Value error, the diagonal (3x3) is a physical contradiction and has no matrix cell
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from triz.tables import cell_problem

__all__ = [
    "PARAMETER_IDS",
    "PRINCIPLE_IDS",
    "Cell",
    "Constraint",
    "HazardRule",
    "Parameter",
    "ParameterId",
    "Principle",
    "PrincipleId",
    "Separation",
]

PARAMETER_IDS = range(1, 40)
PRINCIPLE_IDS = range(1, 41)

ParameterId = Annotated[int, Field(ge=1, le=39)]
PrincipleId = Annotated[int, Field(ge=1, le=40)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Parameter(_Frozen):
    """One of Altshuller's 39 engineering parameters, with what homeowners call it."""

    id: ParameterId
    name: Text
    also_published_as: tuple[Text, ...] = ()
    description: str = ""
    lexicon: tuple[Phrase, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The published name first, then every alternative name."""
        return (self.name, *self.also_published_as)


class Principle(_Frozen):
    """One of the 40 inventive principles, with sub-principles and home examples."""

    id: PrincipleId
    name: Text
    also_published_as: tuple[Text, ...] = ()
    sub_principles_count: int = Field(ge=1)
    summary: str = ""
    sub_principles: tuple[Text, ...] = ()
    home_examples: tuple[Text, ...] = ()


class Cell(_Frozen):
    """A non-empty cell of the contradiction matrix: principle ids in the published order."""

    improving: ParameterId
    worsening: ParameterId
    principles: tuple[PrincipleId, ...] = Field(min_length=1, max_length=4)

    @model_validator(mode="after")
    def _check(self) -> Cell:
        problem = cell_problem(self.improving, self.worsening, self.principles)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def key(self) -> tuple[int, int]:
        return (self.improving, self.worsening)


class Constraint(_Frozen):
    """How a homeowner's constraint (budget, labour, time, skill, renting...) maps onto parameters."""

    name: Text
    phrases: tuple[Phrase, ...] = Field(min_length=1)
    parameters: tuple[ParameterId, ...] = Field(min_length=1)
    rationale: Text


class Separation(_Frozen):
    """A separation principle for a physical contradiction and the inventive principles that carry it out."""

    name: Literal["time", "space", "condition", "system level"]
    question: Text
    description: str = ""
    principles: tuple[PrincipleId, ...] = Field(min_length=1)
    home_example: Text


class HazardRule(_Frozen):
    """A safety rule: trigger phrases and the message a homeowner must see first."""

    category: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
    severity: Literal["stop", "caution"]
    triggers: tuple[Phrase, ...] = Field(min_length=1)
    message: Text
    do_now: tuple[Text, ...] = Field(min_length=1)
    professional: Text
    actions: tuple[Phrase, ...] = ()  # work that needs a professional: flags ideas that propose it
    # Words that raise the hazard only together: each entry is two or more groups of phrases, and the
    # rule fires when a phrase of every group occurs within a few words of the others ("rain" + "panel").
    together: tuple[tuple[tuple[Phrase, ...], ...], ...] = ()

    @field_validator("triggers", "actions")
    @classmethod
    def _lower_case(cls, phrases: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t.lower() for t in phrases)

    @field_validator("together")
    @classmethod
    def _groups(cls, entries: tuple[tuple[tuple[str, ...], ...], ...]) -> tuple[tuple[tuple[str, ...], ...], ...]:
        for entry in entries:
            if len(entry) < 2 or not all(entry):
                raise ValueError("each 'together' entry is two or more non-empty groups of phrases")
        return tuple(tuple(tuple(t.lower() for t in group) for group in entry) for entry in entries)
