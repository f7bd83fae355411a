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
    import asyncio

    from drain.evaluate.cases import read_cases
    from drain.evaluate.report import metrics_json, rich_table, write_chart, write_markdown, write_predictions
    from drain.evaluate.runner import Prediction, aggregate, run_system

    cases = read_cases(file, split=split, limit=limit)
    for path, option in ((json_out, "--json"), (predictions_out, "--predictions"), (report, "--report"),
                         (chart, "--chart")):
        check_output_path(path, option)  # before the first model call
    if temperature is None:
        temperature = 0.7 if repeats > 1 else 0.0
    seed = cli.given["seed"]
    config = cli.config
    settings = cli.planner_settings(depth=2 if full else 1, temperature=temperature, grounded=not no_library)
    knowledge = config.knowledge()
    systems = ["drain", *dict.fromkeys(b.value for b in baseline)]
    engine = cli.backend()
    done = {"n": 0}
    total = len(cases) * repeats * len(systems)

    def progress(prediction: Prediction) -> None:
        done["n"] += 1
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{done['n']}/{total} {prediction.system} {prediction.id}   ")
            sys.stderr.flush()

    shared_grounder = None
    if not no_library:
        from drain.grounding.grounder import shared_grounder as make_grounder

        shared_grounder = make_grounder(knowledge, config)

    async def run() -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        async with engine:
            for system in systems:
                found[system] = await run_system(
                    system, cases, backend=engine, knowledge=knowledge, settings=settings,
                    repeats=1 if system == "lexicon" else repeats, concurrency=concurrency, on_done=progress,
                    grounder=shared_grounder, config=config)
        return found

    predictions = asyncio.run(run())
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    results = {system: aggregate(cases, found) for system, found in predictions.items()}
    paraphrases = paraphrases or (file.parent / "hazard_paraphrases.jsonl")
    if paraphrases.is_file():
        from drain.evaluate.paraphrases import paraphrase_metrics, read_paraphrases

        rows = read_paraphrases(paraphrases, split)
        if rows:
            grounder = None if no_library else shared_grounder
            scored = paraphrase_metrics(rows, knowledge, grounder)
            results["drain"].update({k: v for k, v in scored.items() if k.startswith("paraphrase_")})
            results["drain"]["paraphrase_detail"] = {k: scored[k] for k in ("paraphrases", "by_category", "missed",
                                                                            "false_alarm_ids")}
    meta = {"file": str(file), "split": split, "cases": len(cases), "repeats": repeats, "temperature": temperature,
            "seed": seed, "depth": settings.depth, "ideas": settings.ideas, "grounded": settings.grounded,
            **engine.describe()}
    from drain.commands.output import console, print_json

    console().print(rich_table(results, f"DRAIN evaluation: {file.name} {split or ''} ({len(cases)} cases)"))
    if json_out is not None:
        import json

        json_out.write_text(json.dumps(metrics_json(results, meta), indent=2) + "\n", encoding="utf-8")
    everything = [p for found in predictions.values() for p in found]
    if predictions_out is not None:
        write_predictions(predictions_out, everything)
    if report is not None:
        write_markdown(report, results, cases, everything, meta)
    if chart is not None:
        write_chart(chart, results, f"DRAIN vs baselines ({file.name}, {split or 'all'})")
    if not sys.stdout.isatty() and json_out is None:
        print_json(metrics_json(results, meta))
    if any(p.error for p in everything):
        raise typer.Exit(5)


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
