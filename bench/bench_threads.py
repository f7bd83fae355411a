"""How much one busy neighbour slows the embedded model, by thread count.

llama.cpp's threads wait for each other at every step, so with as many threads as cores one other busy
program (a browser tab, a compiler) holds all of them back. This runs the same real DRAIN solve (the
default DRAIN model, depth 1, one slot) quiet, next to one busy process pinned to CPU 0, and next to
one busy process the OS may move, with the default thread count (one fewer than the CPUs) and with
one thread per CPU. A fresh model per solve, loaded before timing; the conditions take turns, round by
round. Prints wall seconds and decode tokens/s (medians of ``--repeats`` rounds), and each condition's
slowdown against the same thread count quiet and against the fastest quiet setting. The goal (issue 10):
at most 2x slower with one core busy.

    .venv/bin/python bench/bench_threads.py
    .venv/bin/python bench/bench_threads.py --repeats 3 --problem "noisy furnace"
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drain.backends.embedded import EmbeddedBackend, default_threads
from drain.planner import Planner, PlannerSettings

BUSY = "import os, sys\nif sys.argv[1] == 'pinned':\n    os.sched_setaffinity(0, {0})\nwhile True:\n    pass\n"


def busy_neighbour(kind: str) -> subprocess.Popen[bytes] | None:
    """A process that keeps one core at 100% (pinned to CPU 0, or free to move), or none."""
    if kind == "quiet":
        return None
    return subprocess.Popen([sys.executable, "-c", BUSY, kind])


async def solve_once(threads: int, kind: str, problem: str) -> tuple[float, float]:
    """One solve on a fresh, loaded model next to the given neighbour: (wall seconds, decode tokens/s)."""
    backend = EmbeddedBackend(threads=threads)
    await backend.warm_up()  # load the model before timing
    neighbour = busy_neighbour(kind)
    try:
        time.sleep(0.5)  # let the neighbour get going
        async with backend:
            tree = await Planner(backend, PlannerSettings(depth=1), log=False).solve_async(problem)
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    return tree.stats.wall_seconds, tree.stats.completion_tokens / max(tree.stats.model_seconds, 1e-9)


async def main(args: argparse.Namespace) -> None:
    cpus = len(os.sched_getaffinity(0))
    settings = sorted({default_threads(), cpus}, reverse=True)
    print(f"{cpus} CPUs; problem {args.problem!r} at depth 1; median of {args.repeats} rounds, each round "
          f"running every condition once (noise on a shared machine spreads over all); default threads "
          f"{default_threads()}")
    kinds = ("quiet", "pinned", "free")
    runs: dict[tuple[int, str], list[tuple[float, float]]] = {(t, k): [] for t in settings for k in kinds}
    for round_ in range(args.repeats):
        order = list(runs) if round_ % 2 == 0 else list(runs)[::-1]
        for threads, kind in order:
            runs[threads, kind].append(await solve_once(threads, kind, args.problem))
    rows = {key: (statistics.median(w for w, _ in found), statistics.median(r for _, r in found))
            for key, found in runs.items()}
    best = min(rows[t, "quiet"][0] for t in settings)
    print(f"{'threads':>7} {'neighbour':24} {'wall s':>7} {'tok/s':>7} {'vs quiet':>9} {'vs best quiet':>14}")
    names = {"quiet": "none (quiet)", "pinned": "1 busy, pinned to CPU 0", "free": "1 busy, unpinned"}
    for (threads, kind), (wall, rate) in rows.items():
        quiet = rows[threads, "quiet"][0]
        mark = "  default" if threads == default_threads() else ""
        print(f"{threads:7d} {names[kind]:24} {wall:7.2f} {rate:7.1f} {wall / quiet:8.2f}x {wall / best:13.2f}x{mark}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="leaking basement on budget")
    parser.add_argument("--repeats", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
