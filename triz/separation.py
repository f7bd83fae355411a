"""Separation principles for a physical contradiction (one parameter must be both high and low).

>>> import triz
>>> options = triz.load().separate(17)
>>> [o.name for o in options]
['time', 'space', 'condition', 'system level']
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from triz.matrix import ContradictionMatrix, check_parameter_id
from triz.models import Separation

__all__ = ["SeparationOption", "separation_options"]


class SeparationOption(BaseModel):
    """One way to separate the opposite demands, with its principles ranked for the parameter."""

    model_config = ConfigDict(frozen=True)

    name: str
    question: str
    principles: tuple[int, ...]
    home_example: str


def separation_options(
    parameter: int, separations: Iterable[Separation], matrix: ContradictionMatrix
) -> list[SeparationOption]:
    """Each separation's principles, those the matrix suggests most for ``parameter`` first."""
    check_parameter_id(parameter)
    graph = matrix.graph
    node = f"P{parameter}"

    def weight(principle: int) -> int:
        data = graph.get_edge_data(f"IP{principle}", node)
        return data["weight"] if data else 0

    return [
        SeparationOption(
            name=s.name, question=s.question, home_example=s.home_example,
            principles=tuple(sorted(s.principles, key=lambda p: (-weight(p), s.principles.index(p)))),
        )
        for s in separations
    ]
