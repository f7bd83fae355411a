"""The hazard check, by meaning and by rules, on the house library's hazard phrasings and look-alikes.

By default it reports the *tune* split as the probe's thresholds were set on it (five-fold cross-validation:
each phrasing and look-alike read by a probe fitted without it): recall per category and the share of tune
look-alikes the probe flags beyond the rules. ``--held-out`` measures the held-out split instead, which no
threshold or rule was set on: run it once, at the end, and report what it says.

    .venv/bin/python bench/bench_hazards.py [--held-out] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import triz  # noqa: E402
from drain.grounding.grounder import Grounder  # noqa: E402


def held_out(grounder: Grounder, knowledge: triz.TrizKnowledge) -> dict[str, object]:
    library = grounder.library
    phrasings = [p for p in library.phrasings if p.split == "held_out"]
    looks = [x for x in library.lookalikes if x.split == "held_out"]
    rules = knowledge.hazards
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # semantic+rules, rules alone, total
    missed = []
    started = time.perf_counter()
    vectors = grounder.index.embedder.embed([p.text for p in phrasings])
    for phrasing, vector in zip(phrasings, vectors, strict=True):
        by_rules = {m.category for m in rules.check(phrasing.text)}
        similar = {h.category for h in grounder.hazards(phrasing.text, query=vector)}
        hits[phrasing.category][0] += phrasing.category in by_rules | similar
        hits[phrasing.category][1] += phrasing.category in by_rules
        hits[phrasing.category][2] += 1
        if phrasing.category not in by_rules | similar:
            missed.append({"category": phrasing.category, "text": phrasing.text, "raised": sorted(by_rules | similar)})
    query_ms = 1000 * (time.perf_counter() - started) / max(1, len(phrasings))
    look_vectors = grounder.index.embedder.embed([x.text for x in looks])
    alarms = rule_alarms = 0
    flagged = []
    for item, vector in zip(looks, look_vectors, strict=True):
        by_rules = {m.category for m in rules.check(item.text)}
        similar = {h.category for h in grounder.hazards(item.text, query=vector)}
        alarms += bool(by_rules | similar)
        rule_alarms += bool(by_rules)
        if by_rules | similar:
            flagged.append({"text": item.text, "raised": sorted(by_rules | similar)})
    severity = {name: rule.severity for name, rule in rules.rules.items()}
    total = sum(n for _, _, n in hits.values())
    stop = [c for c in hits if severity[c] == "stop"]
    return {
        "recall": round(sum(h for h, _, _ in hits.values()) / total, 4),
        "stop_recall": round(sum(hits[c][0] for c in stop) / sum(hits[c][2] for c in stop), 4),
        "rules_recall": round(sum(r for _, r, _ in hits.values()) / total, 4),
        "false_alarms": round(alarms / max(1, len(looks)), 4),
        "rules_false_alarms": round(rule_alarms / max(1, len(looks)), 4),
        "by_category": {c: {"recall": round(h / n, 3), "rules": round(r / n, 3), "n": n}
                        for c, (h, r, n) in sorted(hits.items())},
        "missed": missed, "flagged_lookalikes": flagged, "phrasings": total, "lookalikes": len(looks),
        "ms_per_query": round(query_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held-out", action="store_true", help="measure the held-out split (once, at the end)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    knowledge = triz.load()
    grounder = Grounder(knowledge)
    tuning = grounder.semantic_hazards.tuning
    severity = {name: rule.severity for name, rule in knowledge.hazards.rules.items()}
    out: dict[str, object] = {"thresholds": tuning.thresholds, "library": grounder.library.digest,
                              "probe": tuning.digest}
    out["tune_cross_validated"] = {"recall": tuning.tune_recall, "false_alarms": tuning.tune_false_alarms}
    print(f"probe thresholds {sorted(set(tuning.thresholds.values()))}; tune split, cross-validated: "
          f"look-alikes flagged beyond the rules {tuning.tune_false_alarms:.3f}")
    print("| category | severity | threshold | tune recall (rules + probe, cross-validated) |\n|---|---|---|---|")
    for category in tuning.categories:
        print(f"| {category} | {severity[category]} | {tuning.thresholds[category]} | "
              f"{tuning.tune_recall.get(category)} |")
    if args.held_out:
        result = held_out(grounder, knowledge)
        out["held_out"] = result
        print(f"\nheld-out split ({result['phrasings']} phrasings, {result['lookalikes']} look-alikes):")
        print("| measure | rules alone | rules + similar situations |\n|---|---|---|")
        print(f"| recall, all categories | {result['rules_recall']} | {result['recall']} |")
        print(f"| recall, stop categories | | {result['stop_recall']} |")
        print(f"| false alarms on look-alikes | {result['rules_false_alarms']} | {result['false_alarms']} |")
        print(f"| ms per query (embedding + check) | | {result['ms_per_query']} |")
        print("\n| category | rules | rules + similar | n |\n|---|---|---|---|")
        for category, row in result["by_category"].items():  # type: ignore[union-attr]
            print(f"| {category} | {row['rules']} | {row['recall']} | {row['n']} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
