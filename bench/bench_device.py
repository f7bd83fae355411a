"""The on-device budget: the DRAIN model's size on disk and the peak memory of a whole solve.

Each configuration runs in a fresh process (so peak RSS is its own): load the embedded model, solve one
problem at the default depth, report the process's peak resident memory. Target for a phone: the
model files (base GGUF + adapter) <= 150 MB on disk.

    .venv/bin/python bench/bench_device.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from drain.backends.embedded import EmbeddedBackend
from drain.planner import Planner, PlannerSettings
adapter = sys.argv[3] or False
rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
backend = EmbeddedBackend(adapter=adapter, slots=int(sys.argv[4]))
started = time.perf_counter()
backend._start()
loaded = time.perf_counter() - started
tree = Planner(backend, PlannerSettings(), log=False).solve(sys.argv[2])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"load_s": round(loaded, 2), "wall_s": tree.stats.wall_seconds, "calls": tree.stats.llm_calls,
                  "python_kb": rss_start, "peak_kb": peak}))
"""


def measure(adapter: Path | None, slots: int, problem: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), problem, str(adapter or ""), str(slots)],
                          capture_output=True, text=True, check=True, env={**os.environ, "DRAIN_NO_LOG": "1"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", default="leaking basement on budget")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from drain.adapters import resolve_adapter
    from drain.backends.embedded import default_model_path

    base = default_model_path()
    adapter = resolve_adapter(None)
    base_mb = base.stat().st_size / 1e6
    adapter_mb = adapter.stat().st_size / 1e6 if adapter else 0.0
    print(f"base model   {base.name:40} {base_mb:7.1f} MB")
    print(f"DRAIN adapter {(adapter.name if adapter else 'none installed'):39} {adapter_mb:7.1f} MB")
    print(f"on disk together {base_mb + adapter_mb:.1f} MB (target <= 150 MB)\n")
    print(f"{'configuration':28} {'slots':>5} {'load s':>7} {'solve s':>8} {'calls':>6} {'peak RSS MB':>12}")
    configurations = [("base", None, 1), ("base", None, 4)]
    if adapter:
        configurations += [("base + DRAIN adapter", adapter, 1), ("base + DRAIN adapter", adapter, 4)]
    for label, chosen, slots in configurations:
        found = measure(chosen, slots, args.problem)
        print(f"{label:28} {slots:5d} {found['load_s']:7.2f} {found['wall_s']:8.2f} {found['calls']:6d} "
              f"{found['peak_kb'] / 1024:12.0f}")
    print(f"\n(peak RSS includes the Python interpreter and DRAIN itself; problem: {args.problem!r})")


if __name__ == "__main__":
    main()
