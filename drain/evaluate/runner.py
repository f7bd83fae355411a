"""Run DRAIN and the baselines over evaluation cases and aggregate the metrics.

Systems: ``drain`` (the full planner), ``plain`` (the same model asked directly for two parameters,
no lexicon, no TRIZ core) and ``lexicon`` (the lexicon's candidates alone, no model).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from drain.backends.base import Backend, SamplingOptions
from drain.config import DrainConfig, load_config
from drain.errors import InputError, ReplyValidationError
from drain.evaluate import metrics
from drain.evaluate.cases import EvalCase
from drain.planner import Planner, PlannerSettings
from drain.planner.session import ModelSession
from drain.steps import baseline
from triz.knowledge import TrizKnowledge

__all__ = ["METRIC_NAMES", "Prediction", "aggregate", "lexicon_pairs", "run_system"]

METRIC_NAMES = (
    "pair_hit@1", "pair_hit@3", "pair_precision", "pair_recall", "improving_hit@1", "worsening_hit@1",
    "param_score", "principle_hit@3", "principle_f1", "fix_hit@5", "fix_coverage", "consistency",
    "hazard_recall", "hazard_precision",
)
PRINCIPLES_FOR_F1 = 4


@dataclass
class Prediction:
    """One system's answer to one case in one run."""

    id: str
    run: int
    system: str
    pairs: list[tuple[int, int]] = field(default_factory=list)
    principles: list[int] = field(default_factory=list)
    hazards: list[str] | None = None  # None: this system does not look for hazards
    ideas: list[dict[str, Any]] | None = None  # in the tree's order: {"card", "text"}; None: no ideas
    tokens: int = 0
    seconds: float = 0.0
    reasks: int = 0
    error: str | None = None

    def as_line(self) -> dict[str, Any]:
        return {"id": self.id, "run": self.run, "system": self.system, "pairs": [list(p) for p in self.pairs],
                "principles": self.principles, **({"ideas": self.ideas} if self.ideas is not None else {}),
                **({"error": self.error} if self.error else {})}


def lexicon_pairs(knowledge: TrizKnowledge, text: str, top: int = 3) -> list[tuple[int, int]]:
    """The lexicon baseline: ordered pairs of its top candidates, by the sum of their ranks."""
    ranked = [c.id for c in knowledge.candidates(text, k=top)]
    pairs = [(a, b) for a in ranked for b in ranked if a != b]
    return sorted(pairs, key=lambda p: (ranked.index(p[0]) + ranked.index(p[1]), ranked.index(p[0])))


def _principles(knowledge: TrizKnowledge, pairs: Sequence[tuple[int, int]]) -> list[int]:
    return [r.id for r in knowledge.matrix.rank_principles(list(pairs)[:2])]


async def run_system(
    system: str, cases: Sequence[EvalCase], *, backend: Backend | None, knowledge: TrizKnowledge,
    settings: PlannerSettings, repeats: int = 1, concurrency: int = 2,
    on_done: Callable[[Prediction], None] | None = None, grounder: Any = None, config: DrainConfig | None = None,
) -> list[Prediction]:
    """Predictions of ``system`` for every case and run (runs use seeds ``settings.seed + run``).

    ``grounder``: the house library and its vectors, shared by every case (made once when None);
    ``config``: the prompts, the store and the caches (default: :func:`drain.config.load_config`).
    """
    gate = asyncio.Semaphore(max(1, concurrency))
    config = config or load_config()
    prompts = config.prompts()
    if system == "drain" and settings.grounded and grounder is None:
        from drain.grounding.grounder import shared_grounder

        grounder = shared_grounder(knowledge, config)

    async def one(case: EvalCase, run: int) -> Prediction:
        async with gate:
            started = time.perf_counter()
            prediction = Prediction(case.id, run, system)
            try:
                if system == "lexicon":
                    prediction.pairs = lexicon_pairs(knowledge, case.problem)
                elif system == "plain":
                    session = ModelSession(_needs(backend, system), SamplingOptions(
                        temperature=settings.temperature, seed=settings.seed + run), max_calls=2)
                    try:
                        reply = (await session.ask(baseline.build(prompts, case.problem))).reply
                        prediction.pairs = [(reply.improving, reply.worsening)]
                    except ReplyValidationError:
                        prediction.pairs = []
                    prediction.tokens = session.counts.prompt_tokens + session.counts.completion_tokens
                    prediction.reasks = session.counts.reasks
                else:
                    run_settings = PlannerSettings(**{**asdict(settings), "seed": settings.seed + run})
                    planner = Planner(_needs(backend, system), run_settings, knowledge=knowledge, prompts=prompts,
                                      grounder=grounder, source="eval", config=config)
                    tree = await planner.solve_async(case.problem)
                    prediction.pairs = tree.ranked_pairs()
                    prediction.hazards = [h.category for h in tree.hazards]
                    if settings.ideas:
                        prediction.ideas = [{"card": i.card, "text": i.idea} for _, i in tree.numbered_ideas()]
                    prediction.tokens = tree.stats.prompt_tokens + tree.stats.completion_tokens
                    prediction.reasks = tree.stats.reasks
            except Exception as err:  # one failed case is recorded, the evaluation goes on
                prediction.error = f"{type(err).__name__}: {err}"
            prediction.principles = _principles(knowledge, prediction.pairs)
            prediction.seconds = round(time.perf_counter() - started, 3)
            if on_done is not None:
                on_done(prediction)
            return prediction

    jobs = [one(case, run) for run in range(repeats) for case in cases]
    return list(await asyncio.gather(*jobs))


def _needs(backend: Backend | None, system: str) -> Backend:
    if backend is None:
        raise InputError(f"the {system} system asks a model: give it a backend")
    return backend


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def case_scores(case: EvalCase, prediction: Prediction) -> dict[str, float]:
    """The per-case numbers of one prediction (for the report's rows)."""
    pairs, ref = prediction.pairs, [tuple(p) for p in case.pairs]
    return {
        "pair_hit@1": metrics.pair_hit_at_k(pairs, ref, 1),
        "pair_hit@3": metrics.pair_hit_at_k(pairs, ref, 3),
        "improving_hit@1": metrics.hit_at_1_side(pairs, ref, 0),
        "worsening_hit@1": metrics.hit_at_1_side(pairs, ref, 1),
        "param_score": metrics.param_score(pairs[0] if pairs else None, ref),
        "principle_hit@3": metrics.principle_hit_at_k(prediction.principles, case.principles_used, 3),
        "principle_f1": metrics.f1(prediction.principles[:PRINCIPLES_FOR_F1], case.principles_used),
    }


def _fixes(case: EvalCase) -> list[dict[str, Any]]:
    """The case's reference fixes (``{"card", "patterns", "note"}``), if it was labelled with them."""
    return list(getattr(case, "fixes", None) or [])


def aggregate(cases: Sequence[EvalCase], predictions: Sequence[Prediction]) -> dict[str, Any]:
    """Every metric in :data:`METRIC_NAMES` plus cost figures, over all cases and runs."""
    by_id = {case.id: case for case in cases}
    labelled = [p for p in predictions if by_id[p.id].pairs]
    rows = [case_scores(by_id[p.id], p) for p in labelled]
    result: dict[str, Any] = {name: _mean([r[name] for r in rows]) for name in rows[0]} if rows else {}
    judged = [p for p in predictions if p.ideas is not None and _fixes(by_id[p.id])]
    for name, measure in (("fix_hit@5", lambda ideas, fixes: metrics.fix_hit_at_k(ideas, fixes, 5)),
                          ("fix_coverage", metrics.fix_coverage)):
        result[name] = _mean([measure(p.ideas or [], _fixes(by_id[p.id])) for p in judged]) if judged else None
    hits = found = wanted = 0
    for p in labelled:
        h, f, w = metrics.pair_counts(p.pairs, [tuple(x) for x in by_id[p.id].pairs])
        hits, found, wanted = hits + h, found + f, wanted + w
    result["pair_precision"] = round(hits / found, 4) if found else 0.0
    result["pair_recall"] = round(hits / wanted, 4) if wanted else 0.0
    runs = sorted({p.run for p in predictions})
    if len(runs) > 1:
        tops: dict[str, list[tuple[int, int] | None]] = {}
        for p in predictions:
            tops.setdefault(p.id, []).append(p.pairs[0] if p.pairs else None)
        result["consistency"] = _mean([metrics.consistency(t) for t in tops.values()])
    else:
        result["consistency"] = None  # needs --repeats 2 or more
    checked = [p for p in predictions if p.hazards is not None]
    if checked:
        tp = fp = fn = 0
        for p in checked:
            h, f, w = metrics.set_counts(p.hazards or [], by_id[p.id].hazards)
            tp, fp, fn = tp + h, fp + f - h, fn + w - h
        result["hazard_recall"] = round(tp / (tp + fn), 4) if tp + fn else 1.0
        result["hazard_precision"] = round(tp / (tp + fp), 4) if tp + fp else 1.0
    else:
        result["hazard_recall"] = result["hazard_precision"] = None
    result = {name: result.get(name) for name in METRIC_NAMES}
    result["cases"] = len({p.id for p in predictions})
    result["runs"] = len(runs)
    result["errors"] = sum(1 for p in predictions if p.error)
    result["tokens_per_case"] = _mean([p.tokens for p in predictions])
    result["seconds_per_case"] = _mean([p.seconds for p in predictions])
    result["reasks_per_case"] = _mean([p.reasks for p in predictions])
    return result
