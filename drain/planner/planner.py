"""The recursive planner: a homeowner's problem in, a TRIZ solution tree out.

Work goes out in levels. Level 1 frames, decomposes and names the top contradictions; each later level
resolves the contradictions found, names the sub-problems' contradictions, and follows the best ideas
one level deeper, until ``depth``, ``max_calls`` or no new contradiction. All calls of one level are
sent together (bounded by the backend's slots). Everything deterministic (hazards, candidates, the
matrix) happens outside the model; a reply that fails validation twice leaves a marked partial node.

>>> from drain.backends.fake import FakeBackend
>>> tree = Planner(FakeBackend()).solve("leaking basement on budget")
>>> tree.contradictions[0].principles[0].name
'Intermediary'
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from drain.backends.base import Backend, ModelTimeoutError, SamplingOptions
from drain.errors import DrainError, InputError
from drain.planner.choices import offer_choices, offer_deepen_choices
from drain.planner.session import CallBudgetExhausted, Exchange, ModelSession
from drain.planner.steps import ContradictStep, DecomposeStep, DeepenStep, FrameStep, ResolveStep
from drain.problem import ProblemText, read_problem
from drain.prompts import PromptLibrary
from drain.schema import (
    BackendInfo,
    Constraints,
    Contradiction,
    Hazard,
    Idea,
    Node,
    ParameterRef,
    PhysicalContradiction,
    PrincipleRef,
    Provenance,
    SeparationRef,
    SolutionTree,
)
from drain.store import Store, open_default_store
from triz.knowledge import TrizKnowledge, load

__all__ = ["Planner", "PlannerSettings"]

@dataclass(frozen=True)
class PlannerSettings:
    """How far and how wide the planner goes; the defaults are the tested, benchmarked ones."""

    depth: int = 2  # levels of problems: 1 = the problem alone, 2 = plus sub-problems and follow-ups
    max_calls: int = 24  # model calls per solve, re-asks included
    contradictions: int = 2  # contradictions named for the problem itself
    child_contradictions: int = 1  # for each sub-problem
    principles: int = 3  # principles turned into ideas per contradiction (the cell's first ones)
    subproblems: int = 2
    deepen: int = 1  # ideas per problem followed one level deeper
    ideas: bool = True  # False: stop at contradictions and principles (the evaluation's quick mode)
    candidates: int = 8  # parameters offered to the model per list
    temperature: float = 0.0
    seed: int = 0
    concurrency: int | None = None  # None: the backend's slots; 1: one call at a time
    timeout: float | None = None  # seconds for the whole solve; then its model calls are cancelled

    def __post_init__(self) -> None:
        for name in ("depth", "max_calls", "contradictions", "child_contradictions", "principles", "subproblems",
                     "deepen", "candidates", "seed", "concurrency", "temperature", "timeout"):
            _check_number(name, getattr(self, name), whole=name not in ("temperature", "timeout"),
                          optional=name in ("concurrency", "timeout"))
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


Event = Callable[[str, dict[str, Any]], None]
Job = Callable[[], Awaitable[list["Job"]]]


@dataclass
class _Solve:
    """The state of one solve: its session, its tree and its counters."""

    session: ModelSession
    tree: SolutionTree
    started: float = field(default_factory=time.perf_counter)


class Planner:
    """Solve house problems with TRIZ on any backend; ``solve()`` is synchronous, ``solve_async()`` not."""

    def __init__(
        self,
        backend: Backend,
        settings: PlannerSettings | None = None,
        *,
        knowledge: TrizKnowledge | None = None,
        prompts: PromptLibrary | None = None,
        on_event: Event | None = None,
        on_exchange: Callable[[Exchange], None] | None = None,
        log: bool | None = None,
        store: Store | None = None,
        source: str = "library",
    ) -> None:
        self.backend = backend
        self.log = log if log is not None else os.environ.get("DRAIN_NO_LOG", "") in ("", "0")
        self._store = store
        self.source = source
        self.settings = settings or PlannerSettings()
        self.knowledge = knowledge or load()
        self.prompts = prompts or PromptLibrary()
        self.on_event = on_event
        self.on_exchange = on_exchange
        self.frame_step = FrameStep(self.prompts, self.knowledge)
        self.decompose_step = DecomposeStep(self.prompts, self.knowledge)
        self.contradict_step = ContradictStep(self.prompts, self.knowledge)
        self.resolve_step = ResolveStep(self.prompts, self.knowledge)
        self.deepen_step = DeepenStep(self.prompts, self.knowledge)

    # ----------------------------------------------------------------------------------------- entry points
    def solve(self, text: str) -> SolutionTree:
        """Solve ``text``; runs its own event loop (use :meth:`solve_async` inside one)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.solve_async(text))
        raise DrainError("Planner.solve() was called inside a running event loop; await solve_async() instead")

    @property
    def store(self) -> Store:
        """Where runs are logged (the default store unless one was given)."""
        if self._store is None:
            self._store = open_default_store()
        return self._store

    async def solve_async(self, text: str) -> SolutionTree:
        """Solve ``text`` and return the whole tree with its stats; logged to the store unless ``log=False``."""
        problem = read_problem(text)
        backend_info = self.backend.describe()
        settings = dict(asdict(self.settings))
        run_id = self.store.start_run(problem.text, source=self.source, backend=backend_info,
                                      settings=settings) if self.log else None
        deadline = asyncio.timeout(self.settings.timeout)
        try:
            async with deadline:
                tree = await self._solve(problem, run_id, backend_info, settings)
        except BaseException as err:
            if isinstance(err, TimeoutError) and deadline.expired():
                err = ModelTimeoutError(f"the solve did not finish within its timeout of {self.settings.timeout:g} s "
                                        "(its model calls were stopped)")
            if run_id is not None:
                self.store.finish_run(run_id, error=_failure(err))
            if isinstance(err, ModelTimeoutError):
                raise err from None
            raise
        if run_id is not None:
            self.store.finish_run(run_id, tree)
        return tree

    def _exchange_sink(self, run_id: str | None, backend_info: dict[str, Any]) -> Callable[[Exchange], None]:
        def sink(exchange: Exchange) -> None:
            if run_id is not None:
                self.store.log_exchange(run_id, exchange, backend_info)
            if self.on_exchange is not None:
                self.on_exchange(exchange)

        return sink

    async def _solve(self, problem: ProblemText, run_id: str | None, backend_info: dict[str, Any],
                     settings: dict[str, Any]) -> SolutionTree:
        s = self.settings
        options = SamplingOptions(temperature=s.temperature, seed=s.seed, max_tokens=1024)
        await self.backend.start_solve()
        session = ModelSession(self.backend, options, max_calls=s.max_calls, concurrency=s.concurrency,
                               on_exchange=self._exchange_sink(run_id, backend_info))
        tree = SolutionTree(
            problem=problem.text, input_warnings=problem.warnings, hazards=self._hazards(problem.text),
            constraints=self._constraints(problem.text), backend=BackendInfo(**backend_info),
            settings=settings, run_id=run_id,
        )
        state = _Solve(session, tree)
        jobs: list[Job] = [lambda: self._frame(state), lambda: self._contradict(state, tree, top=True)]
        if s.depth >= 2 and s.subproblems > 0:
            jobs.insert(1, lambda: self._decompose(state))
        self._emit("start", {"problem": problem.text, "run_id": run_id,
                             "hazards": [h.model_dump() for h in tree.hazards]})
        while jobs:
            tree.stats.levels += 1
            self._emit("level", {"level": tree.stats.levels, "calls": len(jobs)})
            batches = await asyncio.gather(*(self._run(job, tree) for job in jobs))
            jobs = [job for batch in batches for job in batch]
            self._finish_stats(state)
            self._emit("tree", {"level": tree.stats.levels, "tree": tree.model_dump(mode="json")})
        self._finish_stats(state)
        return tree

    async def _run(self, job: Job, tree: SolutionTree) -> list[Job]:
        try:
            return await job()
        except CallBudgetExhausted as stop:
            _mark_partial(tree, str(stop))
            return []

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    def _finish_stats(self, state: _Solve) -> None:
        stats = state.tree.stats
        session_stats = state.session.stats
        for name in ("llm_calls", "reasks", "memo_hits", "prompt_tokens", "completion_tokens", "cached_tokens"):
            setattr(stats, name, getattr(session_stats, name))
        stats.wall_seconds = round(time.perf_counter() - state.started, 3)
        stats.model_seconds = round(state.session.model_seconds, 3)
        stats.partial_nodes = sum(1 for node in state.tree.all_nodes() if node.partial)

    # ----------------------------------------------------------------------------------------- deterministic
    def _hazards(self, text: str) -> list[Hazard]:
        return [Hazard(**h.model_dump()) for h in self.knowledge.check_hazards(text)]

    def _constraints(self, text: str) -> Constraints:
        named = [c.name for c in self.knowledge.lexicon.constraints(text)]
        return Constraints(
            budget="tight" if "budget" in named else "unknown",
            skill="diy" if "skill" in named else "unknown",
            time="urgent" if "time" in named else "unknown",
            tenure="rent" if "renting" in named else "unknown",
            named=named,
        )

    def _contradiction(self, improving: int, worsening: int, confidence: float, reason: str,
                       source: str) -> Contradiction:
        names = self.knowledge.parameter_names
        found = self.knowledge.matrix.lookup(improving, worsening)
        return Contradiction(
            improving=ParameterRef(id=improving, name=names[improving].name),
            worsening=ParameterRef(id=worsening, name=names[worsening].name),
            confidence=round(max(0.0, min(1.0, confidence * (1.0 if found.principles else 0.5))), 2),
            reason=reason, source=source,  # type: ignore[arg-type]
            principles=[PrincipleRef(id=p, name=self.knowledge.principle_names[p].name) for p in found.principles],
            empty_cell_reason=found.reason,
        )

    def _physical(self, parameter: int, high: str, low: str) -> PhysicalContradiction:
        names = self.knowledge.principle_names
        return PhysicalContradiction(
            parameter=ParameterRef(id=parameter, name=self.knowledge.parameter_names[parameter].name),
            high_because=high, low_because=low,
            separations=[
                SeparationRef(name=o.name, question=o.question,
                              principles=[PrincipleRef(id=p, name=names[p].name) for p in o.principles[:4]])
                for o in self.knowledge.separate(parameter)
            ],
        )

    def _idea(self, contradiction: Contradiction, principle: int, position: int, text: str, cost: str, diy: str,
              source: str) -> Idea:
        hazards = self.knowledge.hazards.check(text, actions=True)
        if any(h.severity == "stop" for h in hazards):
            diy = "pro"  # a fix that touches a stop hazard is never a DIY job, whatever the model said
        i, w = contradiction.improving.id, contradiction.worsening.id
        return Idea(
            principle=PrincipleRef(id=principle, name=self.knowledge.principle_names[principle].name),
            idea=text, how=self.knowledge.principles[principle].summary, cost=cost, diy=diy,  # type: ignore[arg-type]
            hazards=[h.category for h in hazards], source=source,  # type: ignore[arg-type]
            provenance=Provenance(improving=i, worsening=w, cell=f"{i}x{w}", principle=principle, position=position),
        )

    # ----------------------------------------------------------------------------------------- steps
    async def _frame(self, state: _Solve) -> list[Job]:
        tree = state.tree
        answer = await state.session.ask(self.frame_step.build(problem=tree.problem))
        if answer.reply is None:
            _mark_partial(tree, f"frame: {answer.error}")
            return []
        reply = answer.reply
        tree.restated = reply.restated
        tree.ideal_final_result = reply.ideal_final_result
        found = tree.constraints  # the lexicon's findings stand; the model fills what it left unknown
        for name in ("budget", "skill", "time", "tenure"):
            if getattr(found, name) == "unknown":
                setattr(found, name, getattr(reply, name))
        return []

    async def _decompose(self, state: _Solve) -> list[Job]:
        tree = state.tree
        answer = await state.session.ask(self.decompose_step.build(problem=tree.problem))
        if answer.reply is None:
            _mark_partial(tree, f"decompose: {answer.error}")
            return []
        jobs: list[Job] = []
        for part in answer.reply.parts[: self.settings.subproblems]:
            child = Node(problem=part, depth=2, hazards=self._hazards(part))
            tree.subproblems.append(child)
            jobs.append(lambda child=child: self._contradict(state, child, top=False))
        return jobs

    async def _contradict(self, state: _Solve, node: Node, *, top: bool) -> list[Job]:
        context = "" if top else state.tree.problem
        improving, worsening, support = offer_choices(self.knowledge, node.problem, context, self.settings.candidates)
        most = self.settings.contradictions if top else self.settings.child_contradictions
        call = self.contradict_step.build(problem=node.problem, improving=improving, worsening=worsening, most=most)
        answer = await state.session.ask(call)
        picked: list[tuple[int, int, str, str]] = []
        if answer.reply is None:
            _mark_partial(node, f"contradict: {answer.error}; contradictions come from the lexicon alone")
        else:
            picked = [(c.improving, c.worsening, c.reason, "model") for c in answer.reply.contradictions]
            physical = answer.reply.physical
            if physical is not None:
                node.physical_contradictions.append(self._physical(physical.parameter, physical.high, physical.low))
        for i in (c.id for c in improving):  # fill up from the lexicon's own ranking
            for w in (c.id for c in worsening):
                if len(picked) >= most:
                    break
                taken = {(p[0], p[1]) for p in picked}
                if i != w and (i, w) not in taken and self.knowledge.matrix.principles_of(i, w):
                    picked.append((i, w, "the homeowner's words point to these two parameters", "lexicon"))
        for rank, (i, w, reason, source) in enumerate(picked[:most]):
            base = (0.9 - 0.15 * rank) if source == "model" else (0.5 - 0.1 * rank)
            lexical = (support.get(i, 0.0) + support.get(w, 0.0)) / 2
            node.contradictions.append(self._contradiction(i, w, base * (0.6 + 0.4 * lexical), reason, source))
        node.contradictions.sort(key=lambda c: (not c.principles, -c.confidence))
        if not self.settings.ideas:
            return []
        return [lambda c=c: self._resolve(state, node, c) for c in node.contradictions if c.principles]

    async def _resolve(self, state: _Solve, node: Node, contradiction: Contradiction) -> list[Job]:
        principles = [p.id for p in contradiction.principles[: self.settings.principles]]
        call = self.resolve_step.build(problem=node.problem, improving=contradiction.improving.id,
                                       worsening=contradiction.worsening.id, principles=principles)
        answer = await state.session.ask(call)
        if answer.reply is None:
            _mark_partial(node, f"resolve {contradiction.improving.id}x{contradiction.worsening.id}: {answer.error}; "
                                "home examples stand in for the model's ideas")
            for position, pid in enumerate(principles, start=1):
                example = self.resolve_step.example_for(pid, node.problem)
                contradiction.ideas.append(
                    self._idea(contradiction, pid, position, example, "$$", "moderate", "example"))
        else:
            for position, idea in enumerate(answer.reply.ideas, start=1):
                contradiction.ideas.append(
                    self._idea(contradiction, idea.principle, position, idea.idea, idea.cost, idea.diy, "model"))
        if node.depth >= self.settings.depth or contradiction is not node.contradictions[0]:
            return []
        chosen = contradiction.ideas[: self.settings.deepen]
        return [lambda idea=idea: self._deepen(state, node, idea) for idea in chosen]

    async def _deepen(self, state: _Solve, node: Node, idea: Idea) -> list[Job]:
        improving, worsening = offer_deepen_choices(self.knowledge, idea.idea, self.settings.candidates + 1)
        call = self.deepen_step.build(problem=node.problem, fix=idea.idea, improving=improving, worsening=worsening)
        answer = await state.session.ask(call)
        if answer.reply is None:
            _mark_partial(node, f"deepen: {answer.error}")
            return []
        reply = answer.reply
        if not reply.new_problem:
            node.notes.append(f"the fix {idea.idea!r} creates no new problem")
            return []
        child = Node(problem=reply.new_problem, depth=node.depth + 1, hazards=self._hazards(reply.new_problem))
        contradiction = self._contradiction(reply.improving, reply.worsening, 0.6,
                                            "a new problem the fix creates", "deepen")
        child.contradictions.append(contradiction)
        idea.followup = child
        return [lambda: self._resolve(state, child, contradiction)] if contradiction.principles else []


def _failure(err: BaseException) -> str:
    """What the store records for a solve that did not finish."""
    if isinstance(err, asyncio.CancelledError):
        return "cancelled: the solve was stopped before it finished (a timeout, an interrupt or a client that left)"
    return f"{type(err).__name__}: {err}"


def _mark_partial(node: Node, note: str) -> None:
    node.partial = True
    if note not in node.notes:
        node.notes.append(note)
