"""What the steps of one solve share: the knowledge, the grounder, the settings, the tree, and the tasks.

A :class:`Task` names a step and the node it works on; steps hand follow-up tasks back as data and the
planner runs each level's tasks together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drain.grounding.grounder import Grounder, Grounding
    from drain.planner.settings import PlannerSettings
    from drain.prompts import PromptLibrary
    from drain.schema import Node, SolutionTree
    from triz.knowledge import TrizKnowledge

__all__ = ["SolveContext", "Task", "mark_partial"]


@dataclass
class Task:
    """Work for one step on one node; ``data`` carries what the step needs beyond the node."""

    step: str
    node: Node
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class SolveContext:
    """One solve's shared state."""

    knowledge: TrizKnowledge
    prompts: PromptLibrary
    settings: PlannerSettings
    tree: SolutionTree
    grounder: Grounder | None  # None: ungrounded (no house library; the model and the lexicon alone)
    writes_ideas: bool = False  # the backend's model may write ideas of its own beside the cards
    family: str | None = None  # a family the homeowner chose (the answer to a clarifying question)
    causes: dict[int, str] = field(default_factory=dict)  # id(node) -> the likely cause a part stands for
    _groundings: dict[int, Grounding] = field(default_factory=dict)

    def grounding(self, node: Node) -> Grounding | None:
        """The library's reading of a node's problem, computed once per node."""
        if self.grounder is None:
            return None
        key = id(node)
        if key not in self._groundings:
            chosen = self.family if node is self.tree else None
            self._groundings[key] = self.grounder.ground(node.problem, family=chosen)
        return self._groundings[key]

    def remember(self, node: Node, grounding: Grounding) -> None:
        """Reuse a grounding already made for a node (a part grounded through its family)."""
        self._groundings[id(node)] = grounding


def mark_partial(node: Node, note: str) -> None:
    """Mark a node as partial with a note saying what is missing."""
    node.partial = True
    if note not in node.notes:
        node.notes.append(note)
