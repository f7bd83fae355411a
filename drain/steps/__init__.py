"""The planner's steps, one module each: ``request`` (what to ask the model, or None when the step is the
library's alone), ``apply`` (how a valid reply changes the tree, returning the next tasks) and ``fallback``
(what stands in when the reply stays invalid or the call budget is spent).
"""

from __future__ import annotations

from types import ModuleType

from drain.steps import contradict, decompose, deepen, followup, frame, parts, resolve

__all__ = ["STEPS"]

STEPS: dict[str, ModuleType] = {module.NAME: module for module in
                                (frame, contradict, resolve, parts, followup, decompose, deepen)}
