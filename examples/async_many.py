"""Solve several problems concurrently from async code, sharing one model (its slots batch the calls).

    .venv/bin/python examples/async_many.py
"""

from __future__ import annotations

import asyncio

from drain import Planner, PlannerSettings, get_backend

PROBLEMS = ["noisy furnace", "mice in the garage", "slippery bathroom floor for my elderly dad"]


async def main() -> None:
    async with get_backend("embedded", slots=4) as backend:
        planner = Planner(backend, PlannerSettings(depth=1))
        trees = await asyncio.gather(*(planner.solve_async(p) for p in PROBLEMS))
    for tree in trees:
        top = tree.contradictions[0]
        print(f"{tree.problem}: {top.improving.name} vs {top.worsening.name} -> "
              f"{', '.join(p.name for p in top.principles)}")


if __name__ == "__main__":
    asyncio.run(main())
