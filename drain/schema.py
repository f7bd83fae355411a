"""The solution tree: the one result shape that the CLI, the library, the store and the API share.

The JSON contract (README, "The solve JSON contract"): the top level has ``problem``,
``ideal_final_result``, ``hazards``, ``contradictions`` (best first, each with ``improving``,
``worsening``, ``confidence``, ``principles`` exactly as the matrix cell lists them, ``ideas``),
``subproblems`` (the same shape, recursively) and ``stats``. Version 2 adds what grounded solving knows:
the matched ``families``, the quick ``diagnosis`` checks, a ``clarify`` question when two families are too
close to call, each hazard's ``source`` (rule or similar situation), each idea's ``card`` with its steps,
cost, DIY level, permit and renter flags, and ``questions`` for the principles no card applies.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BackendInfo",
    "Check",
    "Clarify",
    "ClarifyOption",
    "Constraints",
    "Contradiction",
    "FamilyRef",
    "Hazard",
    "Idea",
    "Node",
    "ParameterRef",
    "PhysicalContradiction",
    "PrincipleRef",
    "Provenance",
    "Question",
    "SeparationRef",
    "SolutionTree",
    "Stats",
]

SCHEMA_VERSION = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParameterRef(_Model):
    id: int = Field(ge=1, le=39)
    name: str


class PrincipleRef(_Model):
    id: int = Field(ge=1, le=40)
    name: str


class Hazard(_Model):
    """A hazard found in the problem. Always shown first; nothing the model says removes it.

    ``source``: "rule" when the hazard rules' phrases matched (``matched`` lists them), "similar" when the
    text is like a known dangerous situation of the house library (``similar_to``, with its ``score``).
    """

    category: str
    severity: Literal["stop", "caution"]
    message: str
    do_now: list[str] = Field(default_factory=list)
    professional: str = ""
    matched: list[str] = Field(default_factory=list)
    source: Literal["rule", "similar"] = "rule"
    similar_to: str | None = None
    score: float | None = None


class Provenance(_Model):
    """Where an idea comes from: contradiction -> matrix cell -> principle (and its place in the cell)."""

    improving: int
    worsening: int
    cell: str  # "30x32"
    principle: int
    position: int  # 1-based place of the principle in the published cell


class Idea(_Model):
    """A concrete thing to do, traced to the principle it applies.

    ``source``: "card" (a fix card of the house library: ``card`` names it and its fields come along),
    "model" (written by the model), "example" (runs before schema version 2: a principle's home example).
    """

    principle: PrincipleRef
    idea: str
    how: str = ""  # how the principle shows in this idea
    cost: Literal["$", "$$", "$$$"] = "$$"
    diy: Literal["easy", "moderate", "pro"] = "moderate"
    hazards: list[str] = Field(default_factory=list)  # hazard categories the idea itself touches
    source: Literal["card", "model", "example"] = "model"
    provenance: Provenance
    followup: Node | None = None  # the new problem this fix creates, solved one level deeper
    card: str | None = None  # the fix card's id
    family: str | None = None  # the problem family the card was found through
    steps: list[str] = Field(default_factory=list)
    materials: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)
    cost_usd: tuple[int, int] | None = None
    time: str | None = None
    permit: Literal["none", "maybe", "yes"] | None = None
    renter_ok: bool | None = None
    reversible: bool | None = None
    call_pro: str | None = None


class Question(_Model):
    """A principle of the cell that no fix card applies: its sub-principle, asked as a question."""

    principle: PrincipleRef
    question: str
    provenance: Provenance


class Contradiction(_Model):
    """Improving one parameter worsens another; the matrix cell gives the principles."""

    improving: ParameterRef
    worsening: ParameterRef
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str = ""
    source: Literal["model", "lexicon", "deepen", "library", "followup"] = "model"
    principles: list[PrincipleRef] = Field(default_factory=list)
    empty_cell_reason: str | None = None
    ideas: list[Idea] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list)


class SeparationRef(_Model):
    name: str
    question: str
    principles: list[PrincipleRef]
    how: str | None = None  # how this separation resolves it here (from the house library)


class PhysicalContradiction(_Model):
    """One parameter must be both high and low; resolved with the separation principles."""

    parameter: ParameterRef
    high_because: str = ""
    low_because: str = ""
    separations: list[SeparationRef] = Field(default_factory=list)
    property: str | None = None  # what must be both high and low, in the homeowner's terms
    source: Literal["model", "library"] = "model"


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
    check: str | None = None  # for a part that is a likely cause: the quick check that tells it apart


class FamilyRef(_Model):
    """A problem family of the house library the problem was matched to, by meaning."""

    id: str
    name: str
    score: float
    said: str = ""  # the closest way homeowners say it


class Check(_Model):
    """A quick check that tells the likely causes apart: what a good contractor asks first."""

    family: str
    cause: str
    check: str


class ClarifyOption(_Model):
    family: str
    name: str


class Clarify(_Model):
    """Two families are too close to call: one question whose answer picks one (``drain solve --ask``)."""

    question: str
    options: list[ClarifyOption]


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
    families: list[FamilyRef] = Field(default_factory=list)
    diagnosis: list[Check] = Field(default_factory=list)
    # hazards the rules found but set aside because the homeowner said they were dealt with (triz.settled):
    # shown as a short "if it comes back" note, never as an alarm
    dealt_with: list[Hazard] = Field(default_factory=list)
    clarify: Clarify | None = None
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
