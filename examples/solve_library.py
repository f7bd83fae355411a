"""Use DRAIN as a library: solve a problem, walk the tree, print ideas with their provenance.

    .venv/bin/python examples/solve_library.py "drafty windows, can't replace them"
"""

from __future__ import annotations

import sys

from drain import Planner, PlannerSettings, get_backend


def main(problem: str) -> None:
    backend = get_backend("embedded")  # the offline default; get_backend("openai", base_url=...) for vLLM
    tree = Planner(backend, PlannerSettings(depth=2)).solve(problem)
    for hazard in tree.hazards:  # rules, never the model: always first
        print(f"!! {hazard.category}: {hazard.message}")
    print("Ideal result:", tree.ideal_final_result)
    for contradiction in tree.contradictions:
        cell = f"{contradiction.improving.id}x{contradiction.worsening.id}"
        print(f"\nImprove {contradiction.improving.name} vs {contradiction.worsening.name} (cell {cell})")
        for number, idea in tree.numbered_ideas():
            if idea.provenance.cell == cell:
                print(f"  {number}. [{idea.principle.id} {idea.principle.name}] {idea.idea} ({idea.cost}, {idea.diy})")
                if idea.followup:
                    print(f"     then: {idea.followup.problem}")
    print(f"\nrun {tree.run_id}: {tree.stats.llm_calls} calls, {tree.stats.wall_seconds:.1f} s")


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "leaking basement on budget")
