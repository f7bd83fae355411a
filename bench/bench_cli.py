"""Start-up time of the quick commands: `drain --help` (target <= 0.3 s) and `drain matrix 1 14` (<= 0.5 s).

Runs each command N times as a fresh process and prints min / median / max wall seconds, plus which heavy
modules (pandas, torch, transformers, xllamacpp, networkx) each path imports (there must be none).

    .venv/bin/python bench/bench_cli.py --runs 15
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "torch", "transformers", "xllamacpp", "networkx", "numpy", "fastapi")
COMMANDS = {
    "drain --help": ["--help"],
    "drain matrix 1 14": ["matrix", "1", "14"],
    "drain matrix 1 14 --format json": ["matrix", "1", "14", "--format", "json"],
    "drain parameter leak": ["parameter", "leak"],
}
TARGETS = {"drain --help": 0.3, "drain matrix 1 14": 0.5, "drain matrix 1 14 --format json": 0.5}


def drain_command() -> list[str]:
    script = Path(sys.executable).parent / "drain"
    return [str(script)] if script.exists() else [sys.executable, "-m", "drain"]


def heavy_imports(args: list[str]) -> list[str]:
    probe = ("import sys, runpy; sys.argv = ['drain', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('drain', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=ROOT)
    line = next((x for x in done.stderr.splitlines() if x.startswith("HEAVY")), "HEAVY []")
    return ast.literal_eval(line.split(" ", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    command = drain_command()
    env = {**os.environ, "DRAIN_NO_LOG": "1"}
    print(f"{'command':34} {'min s':>7} {'median s':>9} {'max s':>7} {'target':>7}  heavy imports")
    for label, args in COMMANDS.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([*command, *args], capture_output=True, check=True, env=env, cwd=ROOT)
            times.append(time.perf_counter() - started)
        target = TARGETS.get(label)
        print(f"{label:34} {min(times):7.3f} {statistics.median(times):9.3f} {max(times):7.3f} "
              f"{(f'{target:.1f}' if target else '-'):>7}  {', '.join(heavy_imports(args)) or 'none'}")
    print(f"({runs} runs each, {os.cpu_count()} CPUs, python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
