"""Altshuller's contradiction matrix as data and as a networkx graph.

Parameters ("P1".."P39") and principles ("IP1".."IP40") are nodes; each non-empty cell is an edge from
the improving to the worsening parameter carrying its principles in the published order.

>>> import triz
>>> matrix = triz.load().matrix
>>> matrix.lookup(30, 32).principles
(24, 35, 2)
>>> matrix.lookup(1, 2).reason
'the matrix cell 1x2 is empty: the classical matrix offers no principles for it'
>>> [p for p, _ in matrix.most_frequent(3)]
[35, 10, 1]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from triz.errors import UnknownParameterError

if TYPE_CHECKING:
    import networkx as nx

    from triz.models import Cell

__all__ = ["ContradictionMatrix", "Lookup", "RankedPrinciple", "check_parameter_id"]


def check_parameter_id(value: object) -> int:
    """Return ``value`` as a parameter id, or raise :class:`UnknownParameterError`.

    >>> check_parameter_id(40)
    Traceback (most recent call last):
    ...
    triz.errors.UnknownParameterError: no parameter 40: parameter ids run from 1 to 39
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnknownParameterError(f"a parameter id must be a whole number, not {value!r}")
    if not 1 <= value <= 39:
        raise UnknownParameterError(f"no parameter {value}: parameter ids run from 1 to 39")
    return value


@dataclass(frozen=True)
class Lookup:
    """The answer of one matrix lookup: principles in published order, or none and the reason why."""

    improving: int
    worsening: int
    principles: tuple[int, ...]
    reason: str | None = None

    @property
    def empty(self) -> bool:
        return not self.principles


@dataclass(frozen=True)
class RankedPrinciple:
    """A principle ranked over several contradictions: how often it came up and how early."""

    id: int
    count: int
    best_position: int
    cells: tuple[tuple[int, int], ...]


class ContradictionMatrix:
    """Read-only queries over the matrix cells; the graph is built on first use."""

    def __init__(self, cells: Mapping[tuple[int, int], tuple[int, ...]]) -> None:
        self._cells = dict(cells)

    def __len__(self) -> int:
        return len(self._cells)

    def cells(self) -> list[Cell]:
        """Every non-empty cell as a :class:`~triz.models.Cell`, by improving then worsening id."""
        from triz.models import Cell

        return [Cell(improving=i, worsening=w, principles=self._cells[(i, w)]) for i, w in sorted(self._cells)]

    def principles_of(self, improving: int, worsening: int) -> tuple[int, ...]:
        """The principle ids of a cell, ``()`` when empty (see :meth:`lookup` for the reason)."""
        return self._cells.get((improving, worsening), ())

    def lookup(self, improving: int, worsening: int) -> Lookup:
        """Principles for improving ``improving`` while ``worsening`` gets worse; fails closed.

        >>> import triz
        >>> triz.load().matrix.lookup(14, 1).principles
        (1, 8, 40, 15)
        >>> triz.load().matrix.lookup(5, 5).reason
        'improving and worsening the same parameter (5) is a physical contradiction: use the separation principles'
        """
        improving, worsening = check_parameter_id(improving), check_parameter_id(worsening)
        if improving == worsening:
            return Lookup(
                improving=improving, worsening=worsening, principles=(),
                reason=f"improving and worsening the same parameter ({improving}) is a physical "
                "contradiction: use the separation principles",
            )
        principles = self._cells.get((improving, worsening))
        if principles is None:
            return Lookup(
                improving=improving, worsening=worsening, principles=(),
                reason=f"the matrix cell {improving}x{worsening} is empty: the classical matrix "
                "offers no principles for it",
            )
        return Lookup(improving=improving, worsening=worsening, principles=principles)

    @cached_property
    def graph(self) -> nx.DiGraph:
        """Parameters and principles as nodes, cells as edges ``P<i> -> P<w>`` with ``principles``."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from((f"P{i}", {"kind": "parameter", "id": i}) for i in range(1, 40))
        graph.add_nodes_from((f"IP{p}", {"kind": "principle", "id": p}) for p in range(1, 41))
        for (improving, worsening), principles in sorted(self._cells.items()):
            graph.add_edge(f"P{improving}", f"P{worsening}", principles=principles)
            for principle in principles:
                # principle -> improving parameter, weighted by the number of cells that suggest it
                edge = graph.get_edge_data(f"IP{principle}", f"P{improving}", default={"weight": 0})
                graph.add_edge(f"IP{principle}", f"P{improving}", weight=edge["weight"] + 1)
        return graph

    def cells_with(self, principle: int) -> list[tuple[int, int]]:
        """The (improving, worsening) cells that list ``principle``, in matrix order.

        >>> import triz
        >>> triz.load().matrix.cells_with(26)[:3]
        [(1, 26), (1, 28), (1, 29)]
        """
        return sorted(
            (self.graph.nodes[a]["id"], self.graph.nodes[b]["id"])
            for a, b, principles in self.graph.edges(data="principles")
            if principles and principle in principles
        )

    def most_frequent(self, n: int = 10) -> list[tuple[int, int]]:
        """The ``n`` principles listed in the most cells, as (principle, number of cells)."""
        counts = Counter(p for _, _, principles in self.graph.edges(data="principles") if principles
                         for p in principles)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]

    def rank_principles(self, contradictions: Iterable[tuple[int, int]]) -> list[RankedPrinciple]:
        """Principles for several contradictions at once: most frequent first, then earliest position.

        Empty cells and diagonal pairs contribute nothing (fail closed).

        >>> import triz
        >>> [(r.id, r.count) for r in triz.load().matrix.rank_principles([(30, 32), (30, 25)])[:3]]
        [(35, 2), (24, 1), (18, 1)]
        """
        counts: Counter[int] = Counter()
        best: dict[int, int] = {}
        where: dict[int, list[tuple[int, int]]] = {}
        for improving, worsening in contradictions:
            for position, principle in enumerate(self.lookup(improving, worsening).principles):
                counts[principle] += 1
                best[principle] = min(best.get(principle, position), position)
                where.setdefault(principle, []).append((improving, worsening))
        order = sorted(counts, key=lambda p: (-counts[p], best[p], p))
        return [RankedPrinciple(id=p, count=counts[p], best_position=best[p], cells=tuple(where[p]))
                for p in order]
