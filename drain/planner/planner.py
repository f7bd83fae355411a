"""The recursive planner: a homeowner's problem in, a TRIZ solution tree out.

Work goes out in levels of tasks, each task one step (``drain/steps/``) on one node of the tree; all the
model calls of a level are sent together, bounded by the backend's slots. Level 1 frames the problem and
chooses its contradictions; later levels choose the fixes of each contradiction, take the parts from the
matched family's likely causes and follow the new problems chosen fixes create, until ``depth``,
``max_calls`` or nothing new. What can be deterministic is: the hazards (rules, then similar situations),
the house library's families, causes, candidate pairs and cards, the matrix. A reply that fails
validation twice, or a spent call budget, leaves a marked partial node with the library's best in its place.

>>> from drain.backends.fake import FakeBackend
>>> tree = Planner(FakeBackend(), log=False).solve("leaking basement on budget")
>>> (tree.contradictions[0].improving.id, tree.contradictions[0].worsening.id)
(30, 32)
>>> tree.contradictions[0].ideas[0].source
'card'
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from drain.backends.base import Backend, SamplingOptions
from drain.config import DrainConfig, load_config
from drain.errors import CallBudgetExhausted, DrainError, ModelTimeoutError, ReplyValidationError
from drain.planner.session import Exchange, ModelSession
from drain.planner.settings import PlannerSettings
from drain.problem import ProblemText, read_problem
from drain.prompts import PromptLibrary
from drain.schema import BackendInfo, Constraints, FamilyRef, Hazard, SolutionTree
from drain.steps import STEPS
from drain.steps.context import SolveContext, Task, mark_partial
from drain.steps.tree import hazards_of
from drain.store import Store, open_default_store
from triz.knowledge import TrizKnowledge

__all__ = ["Planner", "PlannerSettings"]

# An event: ``start``, ``level`` and, after each level, ``tree`` with the SolutionTree itself as it stands
# (the planner goes on changing it: a listener that keeps it for later takes a copy or its JSON then).
Event = Callable[[str, dict[str, Any]], None]


class Planner:
    """Solve house problems with TRIZ on any backend; ``solve()`` is synchronous, ``solve_async()`` not.

    ``grounder``: the house library and its vectors (:class:`drain.grounding.grounder.Grounder`), shared
    between solves; made on first use unless ``settings.grounded`` is False. ``config``: where the run
    store, the data folders and the caches are, and whether to log (default: :func:`drain.config.load_config`).
    """

    def __init__(
        self,
        backend: Backend,
        settings: PlannerSettings | None = None,
        *,
        knowledge: TrizKnowledge | None = None,
        prompts: PromptLibrary | None = None,
        grounder: Any = None,
        on_event: Event | None = None,
        on_exchange: Callable[[Exchange], None] | None = None,
        log: bool | None = None,
        store: Store | None = None,
        source: str = "library",
        config: DrainConfig | None = None,
    ) -> None:
        self.backend = backend
        self.config = config or load_config()  # where the store, the data and the caches are
        self.log = log if log is not None else self.config.log
        self._store = store
        self.source = source
        self.settings = settings or PlannerSettings()
        self.knowledge = knowledge or self.config.knowledge()
        self.prompts = prompts or self.config.prompts()
        self._grounder = grounder
        self.on_event = on_event
        self.on_exchange = on_exchange

    # ----------------------------------------------------------------------------------------- entry points
    def solve(self, text: str, *, family: str | None = None) -> SolutionTree:
        """Solve ``text``; runs its own event loop (use :meth:`solve_async` inside one)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.solve_async(text, family=family))
        raise DrainError("Planner.solve() was called inside a running event loop; await solve_async() instead")

    @property
    def store(self) -> Store:
        """Where runs are logged (the default store unless one was given)."""
        if self._store is None:
            self._store = open_default_store(self.config)
        return self._store

    @property
    def grounder(self) -> Any:
        """The house library, read by meaning; None when the settings say ungrounded."""
        if not self.settings.grounded:
            return None
        if self._grounder is None:
            from drain.grounding.grounder import shared_grounder

            self._grounder = shared_grounder(self.knowledge, self.config)
        return self._grounder

    async def solve_async(self, text: str, *, family: str | None = None) -> SolutionTree:
        """Solve ``text`` and return the whole tree with its stats; logged to the store unless ``log=False``.

        ``family``: a house-library family id the homeowner chose (the answer to the tree's ``clarify``).
        """
        problem = read_problem(text)
        if family is not None and self.grounder is not None:
            self.grounder.library.family(family)  # an unknown id is one clear error before any work
        backend_info = self.backend.describe()
        settings = dict(asdict(self.settings))
        run_id = self.store.start_run(problem.text, source=self.source, backend=backend_info,
                                      settings=settings) if self.log else None
        deadline = asyncio.timeout(self.settings.timeout)
        try:
            async with deadline:
                tree = await self._solve(problem, run_id, backend_info, settings, family)
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

    def _context(self, problem: ProblemText, backend_info: dict[str, Any], settings: dict[str, Any],
                 run_id: str | None, family: str | None) -> SolveContext:
        tree = SolutionTree(problem=problem.text, input_warnings=problem.warnings,
                            constraints=self._constraints(problem.text), backend=BackendInfo(**backend_info),
                            settings=settings, run_id=run_id)
        context = SolveContext(self.knowledge, self.prompts, self.settings, tree, self.grounder,
                               writes_ideas=self.backend.capabilities.writes_ideas, family=family)
        grounding = context.grounding(tree)
        tree.hazards = hazards_of(self.knowledge, self.grounder, problem.text,
                                  grounding.hazards if grounding is not None else None)
        raised = {h.category for h in tree.hazards}  # a note never contradicts an alarm the probe still raised
        tree.dealt_with = [Hazard(**m.model_dump()) for m in self.knowledge.hazards.set_aside(problem.text)
                           if m.category not in raised]
        if grounding is not None:
            tree.families = [FamilyRef(id=m.family.id, name=m.family.name, score=m.score, said=m.said)
                             for m in grounding.families]
            if grounding.family is None:
                tree.notes.append("no problem family of the house library fits this closely; the ideas that "
                                  "follow are the nearest the library has")
        return context

    async def _solve(self, problem: ProblemText, run_id: str | None, backend_info: dict[str, Any],
                     settings: dict[str, Any], family: str | None) -> SolutionTree:
        s = self.settings
        started = time.perf_counter()
        await self.backend.start_solve()
        session = ModelSession(self.backend, SamplingOptions(temperature=s.temperature, seed=s.seed, max_tokens=1024),
                               max_calls=s.max_calls, concurrency=s.concurrency,
                               on_exchange=self._exchange_sink(run_id, backend_info))
        context = self._context(problem, backend_info, settings, run_id, family)
        tree = context.tree
        tasks = [Task("frame", tree), Task("contradict", tree)]
        self._emit("start", {"problem": problem.text, "run_id": run_id,
                             "hazards": [h.model_dump() for h in tree.hazards]})
        while tasks:
            tree.stats.levels += 1
            self._emit("level", {"level": tree.stats.levels, "calls": len(tasks)})
            batches = await asyncio.gather(*(self._run(context, session, task) for task in tasks))
            tasks = [task for batch in batches for task in batch]
            self._finish_stats(tree, session, started)
            self._emit("tree", {"level": tree.stats.levels, "tree": tree})  # the tree itself: copy to keep it
        self._finish_stats(tree, session, started)
        return tree

    async def _run(self, context: SolveContext, session: ModelSession, task: Task) -> list[Task]:
        if task.data.get("defer", 0) > 0:  # wait a level: it reads what this level's steps write
            return [Task(task.step, task.node, {**task.data, "defer": task.data["defer"] - 1})]
        step = STEPS[task.step]
        request = step.request(context, task)
        if request is None:
            found = step.apply(context, task, None)
        else:
            try:
                answer = await session.ask(request)
            except CallBudgetExhausted as stop:
                mark_partial(context.tree, str(stop))
                found = step.fallback(context, task, str(stop))
            except ReplyValidationError as failed:
                found = step.fallback(context, task, failed.error)
            else:
                found = step.apply(context, task, answer.reply)
        if task.step == "contradict" and task.node is context.tree:  # parts, once the fixes are chosen
            found = [*found, Task("parts", context.tree, {"defer": 1 if found else 0})]
        return found

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, data)

    @staticmethod
    def _finish_stats(tree: SolutionTree, session: ModelSession, started: float) -> None:
        stats = tree.stats
        for name, value in asdict(session.counts).items():
            setattr(stats, name, value)
        stats.wall_seconds = round(time.perf_counter() - started, 3)
        stats.model_seconds = round(session.model_seconds, 3)
        stats.partial_nodes = sum(1 for node in tree.all_nodes() if node.partial)

    # ----------------------------------------------------------------------------------------- deterministic
    def _constraints(self, text: str) -> Constraints:
        named = [c.name for c in self.knowledge.lexicon.constraints(text)]
        return Constraints(
            budget="tight" if "budget" in named else "unknown",
            skill="diy" if "skill" in named else "unknown",
            time="urgent" if "time" in named else "unknown",
            tenure="rent" if "renting" in named else "unknown",
            named=named,
        )


def _failure(err: BaseException) -> str:
    """What the store records for a solve that did not finish."""
    if isinstance(err, asyncio.CancelledError):
        return "cancelled: the solve was stopped before it finished (a timeout, an interrupt or a client that left)"
    return f"{type(err).__name__}: {err}"
