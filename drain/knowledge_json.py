"""The JSON shapes of the TRIZ queries, shared by the CLI (``--format json``) and the REST API.

>>> cell_json("1", "14")["principles"][0]
{'id': 28, 'name': 'Mechanics substitution'}
"""

from __future__ import annotations

from typing import Any

__all__ = ["cell_json", "principle_json"]


def _ref(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name}


def _shipped(knowledge: Any) -> Any:
    if knowledge is not None:
        return knowledge
    import triz

    return triz.load(lazy=True)


def cell_json(improving: int | str, worsening: int | str, knowledge: Any = None) -> dict[str, Any]:
    """One matrix cell: improving, worsening, principles in the published order, and a reason when empty.

    ``knowledge``: the TRIZ knowledge to read (default: the shipped ``matrix/``)."""
    knowledge = _shipped(knowledge)
    names, principle_names = knowledge.parameter_names, knowledge.principle_names
    first = names[knowledge.parameter_id(improving)]
    second = names[knowledge.parameter_id(worsening)]
    found = knowledge.matrix.lookup(first.id, second.id)
    result: dict[str, Any] = {"improving": _ref(first), "worsening": _ref(second),
                              "principles": [_ref(principle_names[p]) for p in found.principles]}
    if found.reason:
        result["reason"] = found.reason
    return result


def principle_json(ref: int | str, knowledge: Any = None) -> dict[str, Any]:
    """One principle with its sub-principles, home examples, matrix cells and separations."""
    knowledge = _shipped(knowledge)
    found = knowledge.principle(ref)
    cells = knowledge.matrix.cells_with(found.id)
    separations = [s.name for s in knowledge.separations if found.id in s.principles]
    return {**found.model_dump(mode="json"), "cells": [list(c) for c in cells], "separations": separations}
