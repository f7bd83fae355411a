"""``drain eval``: run DRAIN (and baselines) over a labelled JSONL file and report the metrics."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from drain.commands.common import check_output_path
from drain.commands.options import BACKEND, PLANNER, CommandLine, with_options


class Baseline(StrEnum):
    plain = "plain"
    lexicon = "lexicon"


@with_options(PLANNER.only("seed"), BACKEND)
def evaluate(
    file: Path = typer.Argument(..., help='JSONL: {"id", "problem", "pairs", "principles_used", "hazards"} per line.'),
    split: str | None = typer.Option(None, "--split", help="Only cases of this split (train, dev or test)."),
    baseline: list[Baseline] = typer.Option([], "--baseline", help="Also run a baseline: plain, lexicon."),
    repeats: int = typer.Option(1, "--repeats", min=1, max=20, help="Runs per case (seeds seed..seed+N-1)."),
    temperature: float | None = typer.Option(None, "--temperature", min=0.0, max=2.0,
                                             help="Default 0, or 0.7 with --repeats > 1."),
    full: bool = typer.Option(False, "--full", help="Solve whole trees (parts, follow-ups) instead of depth 1."),
    no_library: bool = typer.Option(False, "--no-library", help="Run DRAIN without the house library."),
    paraphrases: Path | None = typer.Option(None, "--paraphrases",
                                            help="Hazard paraphrases to score (default: hazard_paraphrases.jsonl "
                                                 "beside FILE, if there is one)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N cases."),
    concurrency: int = typer.Option(2, "--concurrency", min=1, max=32, help="Cases solved at once."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the aggregate metrics here."),
    predictions_out: Path | None = typer.Option(None, "--predictions", help="Write one line per case and run."),
    report: Path | None = typer.Option(None, "--report", help="Write a Markdown report with per-case rows."),
    chart: Path | None = typer.Option(None, "--chart", help="Write a PNG chart (needs matplotlib)."),
    *,
    cli: CommandLine,
) -> None:
    """Evaluate DRAIN on labelled homeowner problems: pair hit@k, precision/recall, principles, hazards."""
    from drain.evaluate.cases import read_cases
    from drain.evaluate.runner import aggregate

    cases = read_cases(file, split=split, limit=limit)
    for path, option in ((json_out, "--json"), (predictions_out, "--predictions"), (report, "--report"),
                         (chart, "--chart")):
        check_output_path(path, option)  # before the first model call
    if temperature is None:
        temperature = 0.7 if repeats > 1 else 0.0
    config = cli.config
    settings = cli.planner_settings(depth=2 if full else 1, temperature=temperature, grounded=not no_library)
    knowledge = config.knowledge()
    engine = cli.backend()
    grounder = None
    if not no_library:
        from drain.grounding.grounder import shared_grounder

        grounder = shared_grounder(knowledge, config)
    systems = ["drain", *dict.fromkeys(b.value for b in baseline)]
    predictions = _predict(engine, systems, cases, knowledge=knowledge, settings=settings, repeats=repeats,
                           concurrency=concurrency, grounder=grounder, config=config)
    results = {system: aggregate(cases, found) for system, found in predictions.items()}
    _add_paraphrase_metrics(results["drain"], paraphrases or (file.parent / "hazard_paraphrases.jsonl"), split,
                            knowledge, grounder)
    meta = {"file": str(file), "split": split, "cases": len(cases), "repeats": repeats, "temperature": temperature,
            "seed": cli.given["seed"], "depth": settings.depth, "ideas": settings.ideas,
            "grounded": settings.grounded, **engine.describe()}
    everything = [p for found in predictions.values() for p in found]
    _write_outputs(file, split, results, meta, cases, everything, json_out=json_out,
                   predictions_out=predictions_out, report=report, chart=chart)
    if any(p.error for p in everything):
        raise typer.Exit(5)


def _predict(engine: Any, systems: list[str], cases: list[Any], *, repeats: int, **run: Any) -> dict[str, list[Any]]:
    """Every system's predictions (the lexicon baseline once: it has no seed), with a progress line on a
    terminal. ``run``: the keyword arguments of :func:`drain.evaluate.runner.run_system`."""
    import asyncio

    from drain.evaluate.runner import Prediction, run_system

    done = {"n": 0}
    total = len(cases) * repeats * len(systems)

    def progress(prediction: Prediction) -> None:
        done["n"] += 1
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{done['n']}/{total} {prediction.system} {prediction.id}   ")
            sys.stderr.flush()

    async def predict() -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        async with engine:
            for system in systems:
                found[system] = await run_system(system, cases, backend=engine, on_done=progress,
                                                 repeats=1 if system == "lexicon" else repeats, **run)
        return found

    predictions = asyncio.run(predict())
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    return predictions


def _add_paraphrase_metrics(drain: dict[str, Any], path: Path, split: str | None, knowledge: Any,
                            grounder: Any) -> None:
    """The hazard paraphrases' metrics (when ``path`` holds some) added to DRAIN's results."""
    if not path.is_file():
        return
    from drain.evaluate.paraphrases import paraphrase_metrics, read_paraphrases

    rows = read_paraphrases(path, split)
    if rows:
        scored = paraphrase_metrics(rows, knowledge, grounder)
        drain.update({k: v for k, v in scored.items() if k.startswith("paraphrase_")})
        drain["paraphrase_detail"] = {k: scored[k] for k in ("paraphrases", "by_category", "missed",
                                                             "false_alarm_ids")}


def _write_outputs(file: Path, split: str | None, results: dict[str, Any], meta: dict[str, Any], cases: list[Any],
                   everything: list[Any], *, json_out: Path | None, predictions_out: Path | None,
                   report: Path | None, chart: Path | None) -> None:
    """The table on the terminal, then each file asked for; the metrics as JSON on a piped stdout."""
    from drain.commands.output import console, print_json
    from drain.evaluate.report import metrics_json, rich_table, write_chart, write_markdown, write_predictions

    console().print(rich_table(results, f"DRAIN evaluation: {file.name} {split or ''} ({len(cases)} cases)"))
    if json_out is not None:
        import json

        json_out.write_text(json.dumps(metrics_json(results, meta), indent=2) + "\n", encoding="utf-8")
    if predictions_out is not None:
        write_predictions(predictions_out, everything)
    if report is not None:
        write_markdown(report, results, cases, everything, meta)
    if chart is not None:
        write_chart(chart, results, f"DRAIN vs baselines ({file.name}, {split or 'all'})")
    if not sys.stdout.isatty() and json_out is None:
        print_json(metrics_json(results, meta))


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
