"""DRAIN: a TRIZ reasoning engine for house problems.

The library is the product; the ``drain`` command is one of its users::

    from drain import Planner, get_backend
    planner = Planner(get_backend("embedded"))
    tree = planner.solve("leaking basement on budget")

Heavy parts (the model runtime, pandas) load only when used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Planner": "drain.planner",
    "PlannerSettings": "drain.planner",
    "SolutionTree": "drain.schema",
    "get_backend": "drain.backends",
    "register_backend": "drain.backends",
    "Backend": "drain.backends.base",
    "DrainError": "drain.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'drain' has no attribute {name!r}")
