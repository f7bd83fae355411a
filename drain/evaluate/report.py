"""Evaluation output: a rich table, the JSON metrics file, a Markdown report with per-case rows, a chart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drain.evaluate.cases import EvalCase
from drain.evaluate.runner import METRIC_NAMES, Prediction, case_scores

__all__ = ["metrics_json", "rich_table", "write_chart", "write_markdown", "write_predictions"]


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def metrics_json(results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """The full system's metrics at the top level (the names in :data:`METRIC_NAMES`), baselines beside."""
    main = results.get("drain") or next(iter(results.values()))
    return {**main, "baselines": {k: v for k, v in results.items() if k != "drain"}, "meta": meta}


SHOWN = (*METRIC_NAMES, "paraphrase_recall", "paraphrase_stop_recall", "paraphrase_false_alarms",
         "tokens_per_case", "seconds_per_case", "reasks_per_case", "errors")


def rich_table(results: dict[str, dict[str, Any]], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    for system in results:
        table.add_column(system, justify="right")
    for name in SHOWN:
        table.add_row(name, *(_fmt(results[s].get(name)) for s in results))
    return table


def write_predictions(path: Path, predictions: Sequence[Prediction]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for prediction in predictions:
            handle.write(json.dumps(prediction.as_line()) + "\n")


def write_markdown(path: Path, results: dict[str, dict[str, Any]], cases: Sequence[EvalCase],
                   predictions: Sequence[Prediction], meta: dict[str, Any]) -> None:
    systems = list(results)
    lines = [f"# DRAIN evaluation: {meta.get('file')} ({meta.get('split') or 'all cases'})", ""]
    lines += [f"- {key}: {value}" for key, value in meta.items()]
    lines += ["", "| metric | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for name in SHOWN:
        lines.append(f"| {name} | " + " | ".join(_fmt(results[s].get(name)) for s in systems) + " |")
    lines += ["", "## Per case (run 0)", "",
              "| id | problem | reference pairs | " + " | ".join(f"{s} top pairs" for s in systems) + " |",
              "|---|---|---|" + "---|" * len(systems)]
    first = {(p.system, p.id): p for p in predictions if p.run == 0}
    for case in cases:
        cells = []
        for system in systems:
            prediction = first.get((system, case.id))
            if prediction is None:
                cells.append("")
                continue
            mark = "hit" if case.pairs and case_scores(case, prediction)["pair_hit@3"] else "miss"
            pairs = ", ".join(f"{i}x{w}" for i, w in prediction.pairs[:3]) or "none"
            cells.append(f"{pairs} ({mark})" if case.pairs else pairs)
        problem = case.problem.replace("|", "/")[:70]
        reference = ", ".join(f"{i}x{w}" for i, w in case.pairs) or "-"
        lines.append(f"| {case.id} | {problem} | {reference} | " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_chart(path: Path, results: dict[str, dict[str, Any]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["pair_hit@1", "pair_hit@3", "pair_precision", "pair_recall", "improving_hit@1", "worsening_hit@1",
             "principle_hit@3", "principle_f1"]
    figure, axis = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(1, len(results))
    for index, (system, values) in enumerate(results.items()):
        heights = [values.get(n) or 0.0 for n in names]
        axis.bar([x + index * width for x in range(len(names))], heights, width, label=system)
    axis.set_xticks([x + width * (len(results) - 1) / 2 for x in range(len(names))], names, rotation=30, ha="right")
    axis.set_ylim(0, 1)
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
