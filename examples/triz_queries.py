"""The TRIZ core on its own: matrix lookups, lexicon candidates, hazards, separation principles.

    .venv/bin/python examples/triz_queries.py
"""

from __future__ import annotations

import triz

knowledge = triz.load()

print("30x32:", [knowledge.principles[p].name for p in triz.lookup(30, 32)])
print("1x2 empty because:", knowledge.lookup(1, 2).reason)
for candidate in triz.candidates("water seeping into the basement, cheap fix", k=3):
    print(f"candidate {candidate.id} {candidate.name} score={candidate.score} matched={candidate.matched}")
ranked = knowledge.matrix.rank_principles([(30, 32), (30, 25), (30, 36)])
print("principles for three contradictions:", [(r.id, r.count) for r in ranked[:5]])
print("cells suggesting principle 24:", len(knowledge.matrix.cells_with(24)))
for option in knowledge.separate("temperature"):
    print(f"separate in {option.name}: {option.question} -> {option.principles[:4]}")
for hazard in triz.hazards_in("the outlet sparks and there is a burning smell"):
    print(f"hazard {hazard.category} ({hazard.severity}): {hazard.do_now[0]}")
