"""Hazard recall on paraphrases: dangerous house problems worded plainly, and look-alikes that must not alarm.

A paraphrase file holds one JSON object a line: ``{"id", "split", "problem", "hazards", "kind"}`` with
``kind`` "danger" (``hazards`` lists the categories a careful contractor would raise) or "lookalike"
(``hazards`` empty). The hazard check does not depend on the model, so this needs none: the rules and,
grounded, the similar-situation check read each problem exactly as a solve does.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from drain.errors import InputError
from drain.steps.tree import hazards_of
from triz.knowledge import TrizKnowledge

__all__ = ["paraphrase_metrics", "read_paraphrases"]


def read_paraphrases(path: Path, split: str | None = None) -> list[dict[str, Any]]:
    """The paraphrases of ``path`` (optionally one split); a malformed line is one error naming it."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            problem, hazards, kind = row["problem"], list(row["hazards"]), row["kind"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise InputError(f"{path}, line {number}: not a paraphrase ({err})") from None
        if kind not in ("danger", "lookalike") or (kind == "lookalike") == bool(hazards):
            raise InputError(f"{path}, line {number}: kind must be danger (with hazards) or lookalike (without)")
        if split is None or row.get("split") == split:
            rows.append({**row, "problem": problem, "hazards": hazards})
    return rows


def paraphrase_metrics(rows: list[dict[str, Any]], knowledge: TrizKnowledge, grounder: Any) -> dict[str, Any]:
    """Recall over dangers (all, and stop-severity), the false-alarm rate on look-alikes, misses listed."""
    severity = {name: rule.severity for name, rule in knowledge.hazards.rules.items()}
    found = wanted = stop_found = stop_wanted = alarms = lookalikes = 0
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed, false_alarms = [], []
    for row in rows:
        raised = {h.category for h in hazards_of(knowledge, grounder, row["problem"])}
        if row["kind"] == "lookalike":
            lookalikes += 1
            if raised:
                alarms += 1
                false_alarms.append({"id": row.get("id"), "raised": sorted(raised)})
            continue
        for category in row["hazards"]:
            hit = category in raised
            wanted, found = wanted + 1, found + hit
            by_category[category][0] += hit
            by_category[category][1] += 1
            if severity.get(category) == "stop":
                stop_wanted, stop_found = stop_wanted + 1, stop_found + hit
            if not hit:
                missed.append({"id": row.get("id"), "category": category})
    return {
        "paraphrase_recall": round(found / wanted, 4) if wanted else None,
        "paraphrase_stop_recall": round(stop_found / stop_wanted, 4) if stop_wanted else None,
        "paraphrase_false_alarms": round(alarms / lookalikes, 4) if lookalikes else None,
        "paraphrases": {"dangers": wanted, "lookalikes": lookalikes},
        "by_category": {c: round(h / n, 4) for c, (h, n) in sorted(by_category.items())},
        "missed": missed, "false_alarm_ids": false_alarms,
    }
