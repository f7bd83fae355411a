"""The recursive planner: ``Planner(backend).solve(text) -> SolutionTree``."""

from drain.planner.planner import Planner, PlannerSettings

__all__ = ["Planner", "PlannerSettings"]
