"""How far and how wide the planner goes: :class:`PlannerSettings`, checked when made.

>>> PlannerSettings(depth=1).depth
1
>>> PlannerSettings(depth=True)
Traceback (most recent call last):
...
drain.errors.InputError: depth must be a whole number, not True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drain.errors import InputError

__all__ = ["PlannerSettings"]


@dataclass(frozen=True)
class PlannerSettings:
    """The defaults are the tested, benchmarked ones."""

    depth: int = 3  # levels: 1 = the problem alone, 2 = plus its likely causes and follow-ups, 3 = theirs too
    max_calls: int = 24  # model calls per solve, re-asks included
    contradictions: int = 3  # contradictions named for the problem itself
    child_contradictions: int = 1  # for each part (a likely cause) or follow-up
    principles: int = 3  # ideas per contradiction (fix cards, or the model's where it may write)
    subproblems: int = 2  # likely causes followed as parts of the problem
    deepen: int = 1  # ideas per contradiction whose new problem is followed one level deeper
    ideas: bool = True  # False: stop at contradictions and principles (the evaluation's quick mode)
    candidates: int = 6  # contradictions (pairs) and cards offered to the model per choice
    temperature: float = 0.0
    seed: int = 0
    concurrency: int | None = None  # None: the backend's slots; 1: one call at a time
    timeout: float | None = None  # seconds for the whole solve; then its model calls are cancelled
    grounded: bool = True  # False: no house library (the model and the lexicon alone; for comparison)

    def __post_init__(self) -> None:
        for name in ("depth", "max_calls", "contradictions", "child_contradictions", "principles", "subproblems",
                     "deepen", "candidates", "seed", "concurrency", "temperature", "timeout"):
            _check_number(name, getattr(self, name), whole=name not in ("temperature", "timeout"),
                          optional=name in ("concurrency", "timeout"))
        for name in ("ideas", "grounded"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be true or false, not {getattr(self, name)!r}")
        for name in ("depth", "max_calls", "contradictions", "principles", "candidates"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1")
        if self.depth > 5:
            raise InputError("depth is at most 5")
        if not 0 <= self.seed <= 2**32 - 1:
            raise InputError(f"seed must be from 0 to {2**32 - 1}, not {self.seed}")
        if (self.concurrency is not None and self.concurrency < 1) or self.temperature < 0:
            raise InputError("concurrency must be at least 1 and temperature at least 0")
        if self.timeout is not None and self.timeout <= 0:
            raise InputError("timeout must be more than 0 seconds")


def _check_number(name: str, value: Any, *, whole: bool, optional: bool) -> None:
    """A setting from the library or JSON: ``True`` is not a depth, ``"2"`` is not a number."""
    if value is None and optional:
        return
    kinds = int if whole else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or value != value:  # value != value: NaN
        raise InputError(f"{name} must be a {'whole number' if whole else 'number'}, not {value!r}")
