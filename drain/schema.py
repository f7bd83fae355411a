"""The solution tree: the one result shape that the CLI, the library, the store and the API share.

The JSON contract (README, "The solve JSON contract"): the top level has ``problem``,
``ideal_final_result``, ``hazards``, ``contradictions`` (best first, each with ``improving``,
``worsening``, ``confidence``, ``principles`` exactly as the matrix cell lists them, ``ideas``),
``subproblems`` (the same shape, recursively) and ``stats``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BackendInfo",
    "Constraints",
    "Contradiction",
    "Hazard",
    "Idea",
    "Node",
    "ParameterRef",
    "PhysicalContradiction",
    "PrincipleRef",
    "Provenance",
    "SeparationRef",
    "SolutionTree",
    "Stats",
]

SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParameterRef(_Model):
    id: int = Field(ge=1, le=39)
    name: str


class PrincipleRef(_Model):
    id: int = Field(ge=1, le=40)
    name: str


class Hazard(_Model):
    """A safety rule that fired. Always shown first; nothing the model says removes it."""

    category: str
    severity: Literal["stop", "caution"]
    message: str
    do_now: list[str] = Field(default_factory=list)
    professional: str = ""
    matched: list[str] = Field(default_factory=list)


class Provenance(_Model):
    """Where an idea comes from: contradiction -> matrix cell -> principle (and its place in the cell)."""

    improving: int
    worsening: int
    cell: str  # "30x32"
    principle: int
    position: int  # 1-based place of the principle in the published cell


class Idea(_Model):
    """A concrete thing to do, traced to the principle it applies."""

    principle: PrincipleRef
    idea: str
    how: str = ""  # how the principle shows in this idea
    cost: Literal["$", "$$", "$$$"] = "$$"
    diy: Literal["easy", "moderate", "pro"] = "moderate"
    hazards: list[str] = Field(default_factory=list)  # hazard categories the idea itself touches
    source: Literal["model", "example"] = "model"  # "example": the model failed; a home example stands in
    provenance: Provenance
    followup: Node | None = None  # the new problem this fix creates, solved one level deeper


class Contradiction(_Model):
    """Improving one parameter worsens another; the matrix cell gives the principles."""

    improving: ParameterRef
    worsening: ParameterRef
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str = ""
    source: Literal["model", "lexicon", "deepen"] = "model"
    principles: list[PrincipleRef] = Field(default_factory=list)
    empty_cell_reason: str | None = None
    ideas: list[Idea] = Field(default_factory=list)


class SeparationRef(_Model):
    name: str
    question: str
    principles: list[PrincipleRef]


class PhysicalContradiction(_Model):
    """One parameter must be both high and low; resolved with the separation principles."""

    parameter: ParameterRef
    high_because: str = ""
    low_because: str = ""
    separations: list[SeparationRef] = Field(default_factory=list)


class Node(_Model):
    """A problem and what TRIZ makes of it; sub-problems and follow-ups have the same shape."""

    problem: str
    ideal_final_result: str | None = None
    hazards: list[Hazard] = Field(default_factory=list)
    contradictions: list[Contradiction] = Field(default_factory=list)
    physical_contradictions: list[PhysicalContradiction] = Field(default_factory=list)
    subproblems: list[Node] = Field(default_factory=list)
    depth: int = 1
    partial: bool = False
    notes: list[str] = Field(default_factory=list)  # why a part is partial or missing


class Constraints(_Model):
    budget: Literal["tight", "normal", "unknown"] = "unknown"
    skill: Literal["diy", "pro", "unknown"] = "unknown"
    time: Literal["urgent", "normal", "unknown"] = "unknown"
    tenure: Literal["own", "rent", "unknown"] = "unknown"
    named: list[str] = Field(default_factory=list)  # constraints the lexicon found (budget, renting ...)


class Stats(_Model):
    llm_calls: int = 0
    reasks: int = 0
    memo_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    wall_seconds: float = 0.0
    model_seconds: float = 0.0  # time at least one model request was running
    levels: int = 0
    partial_nodes: int = 0


class BackendInfo(_Model):
    backend: str
    model: str
    adapter: str | None = None


class SolutionTree(Node):
    """The whole answer to one problem."""

    schema_version: int = SCHEMA_VERSION
    run_id: str | None = None
    restated: str | None = None
    input_warnings: list[str] = Field(default_factory=list)
    constraints: Constraints = Field(default_factory=Constraints)
    backend: BackendInfo | None = None
    settings: dict[str, int | float | bool | None] = Field(default_factory=dict)
    stats: Stats = Field(default_factory=Stats)

    def all_nodes(self) -> list[Node]:
        """This node, its sub-problems and every follow-up, depth first."""
        found: list[Node] = []

        def walk(node: Node) -> None:
            found.append(node)
            for contradiction in node.contradictions:
                for idea in contradiction.ideas:
                    if idea.followup is not None:
                        walk(idea.followup)
            for child in node.subproblems:
                walk(child)

        walk(self)
        return found

    def numbered_ideas(self) -> list[tuple[int, Idea]]:
        """Every idea in the tree with its 1-based number, in the order renderers show them."""
        found: list[Idea] = []

        def walk(node: Node) -> None:
            for contradiction in node.contradictions:
                for idea in contradiction.ideas:
                    found.append(idea)
                    if idea.followup is not None:
                        walk(idea.followup)
            for child in node.subproblems:
                walk(child)

        walk(self)
        return list(enumerate(found, start=1))

    def ranked_pairs(self) -> list[tuple[int, int]]:
        """The top-level (improving, worsening) pairs, best first."""
        return [(c.improving.id, c.worsening.id) for c in self.contradictions]


Idea.model_rebuild()
