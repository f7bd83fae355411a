"""triz: the TRIZ knowledge DRAIN reasons with. Pure data and queries: no model, no network.

>>> import triz
>>> triz.lookup(1, 14)
(28, 27, 18, 40)
>>> triz.lookup(1, 2)
()
>>> [c.id for c in triz.candidates("water leaking into the basement", k=1)]
[30]
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from triz.hazards import HazardMatch
    from triz.lexicon import Candidate

_LAZY = {
    "DataFileError": "triz.errors", "TrizError": "triz.errors", "UnknownRecordError": "triz.errors",
    "UnknownParameterError": "triz.errors", "UnknownPrincipleError": "triz.errors",
    "HazardMatch": "triz.hazards", "TrizKnowledge": "triz.knowledge", "load": "triz.knowledge",
    "Candidate": "triz.lexicon", "ConstraintMatch": "triz.lexicon",
    "ContradictionMatrix": "triz.matrix", "Lookup": "triz.matrix", "RankedPrinciple": "triz.matrix",
    "Cell": "triz.models", "Constraint": "triz.models", "HazardRule": "triz.models",
    "Parameter": "triz.models", "Principle": "triz.models", "Separation": "triz.models",
    "SeparationOption": "triz.separation",
}


def __getattr__(name: str) -> Any:
    """Load submodules on first use, so that ``import triz.errors`` stays cheap."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'triz' has no attribute {name!r}")


__all__ = [
    "Candidate",
    "Cell",
    "Constraint",
    "ConstraintMatch",
    "ContradictionMatrix",
    "DataFileError",
    "HazardMatch",
    "HazardRule",
    "Lookup",
    "Parameter",
    "Principle",
    "RankedPrinciple",
    "Separation",
    "SeparationOption",
    "TrizError",
    "TrizKnowledge",
    "UnknownParameterError",
    "UnknownPrincipleError",
    "candidates",
    "hazards_in",
    "load",
    "lookup",
]


def lookup(improving: int | str, worsening: int | str) -> tuple[int, ...]:
    """Principle ids of a matrix cell in the published order; ``()`` for an empty or diagonal cell.

    Use ``triz.load().lookup(...)`` for the reason an answer is empty.
    """
    from triz.knowledge import load

    return load().lookup(improving, worsening).principles


def candidates(text: str, k: int = 5) -> list[Candidate]:
    """Ranked parameters a homeowner's text is about, each with the phrases that matched."""
    from triz.knowledge import load

    return load().candidates(text, k)


def hazards_in(text: str) -> list[HazardMatch]:
    """Hazards named or implied by a text (gas, electrical, structural ...)."""
    from triz.knowledge import load

    return load().check_hazards(text)
