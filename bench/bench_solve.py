"""Speed of `drain solve` on the embedded model at the default depth, and what level batching buys.

For each problem: one solve with level batching (all calls of a level sent together over four model
slots) and the same solve one call at a time on one slot (the embedded backend's default), in the same
run. Prints wall seconds, the share of wall time the model was busy, LLM calls and tokens; the medians
of the default mode against the targets; and the batched-vs-sequential speed-up.

    .venv/bin/python bench/bench_solve.py                     # the default DRAIN model
    .venv/bin/python bench/bench_solve.py --no-adapter        # the base SmolLM2-135M
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drain.adapters import resolve_adapter
from drain.backends.embedded import EmbeddedBackend, default_model_path
from drain.planner import Planner, PlannerSettings

PROBLEMS = ["leaking basement on budget", "drafty windows, can't replace them", "noisy furnace"]


async def solve(backend: EmbeddedBackend, problem: str, sequential: bool, seed: int) -> object:
    settings = PlannerSettings(concurrency=1 if sequential else None, seed=seed)
    return await Planner(backend, settings, log=False).solve_async(problem)


async def main(args: argparse.Namespace) -> None:
    adapter = None if args.no_adapter else resolve_adapter(args.adapter)
    print(f"model {default_model_path().name}, adapter {adapter.name if adapter else 'none'}, "
          f"batched over {args.slots} slots vs one slot, {os.cpu_count()} CPUs; "
          "a fresh model per solve, order alternating")
    print(f"{'problem':36} {'mode':10} {'wall s':>7} {'in model':>9} {'calls':>6} {'tokens':>7} {'reasks':>7}")
    speedups, walls, shares, tokens, same = [], [], [], [], []
    for number, problem in enumerate(PROBLEMS[: args.problems]):
        rows, trees = {}, {}
        modes = ("batched", "sequential") if number % 2 == 0 else ("sequential", "batched")
        for mode in modes:
            backend = EmbeddedBackend(adapter=adapter or False, slots=args.slots if mode == "batched" else 1)
            backend._start()  # load the model before timing (about a second)
            async with backend:
                tree = await solve(backend, problem, mode == "sequential", args.seed)
            trees[mode] = content(tree)
            stats = tree.stats
            share = stats.model_seconds / stats.wall_seconds if stats.wall_seconds else 0.0
            rows[mode] = stats
            total = stats.prompt_tokens + stats.completion_tokens
            print(f"{problem[:36]:36} {mode:10} {stats.wall_seconds:7.2f} {share:9.0%} {stats.llm_calls:6d} "
                  f"{total:7d} {stats.reasks:7d}")
            if mode == "sequential":  # the embedded backend's default: one slot
                walls.append(stats.wall_seconds)
                shares.append(share)
                tokens.append(total)
        speedups.append(rows["sequential"].wall_seconds / rows["batched"].wall_seconds)
        same.append(trees["batched"] == trees["sequential"])
    print(f"\ndefault solve (one slot): median wall {statistics.median(walls):.2f} s (target <= 15), "
          f"model busy {statistics.median(shares):.0%} of wall (target >= 85%), "
          f"median tokens {statistics.median(tokens):.0f} (target <= 10,000)")
    print(f"level batching vs one call at a time: {statistics.median(speedups):.2f}x median "
          f"({', '.join(f'{s:.2f}x' for s in speedups)}; target >= 2.5x)")
    print(f"same tree batched and sequential: {sum(same)} of {len(same)} problems")


def content(tree: object) -> str:
    """The tree without its timings and ids: what a homeowner reads."""
    data = tree.model_dump(mode="json")
    data.pop("stats", None)
    data.pop("run_id", None)
    return json.dumps(data, sort_keys=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=3)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adapter", type=Path, default=None)
    parser.add_argument("--no-adapter", action="store_true")
    asyncio.run(main(parser.parse_args()))
