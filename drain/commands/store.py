"""``drain runs``, ``drain show``, ``drain feedback``, ``drain export``: the run store, read and judged;
``drain store check`` and ``drain store repair``: its SQLite file checked and, when damaged, rebuilt."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from drain.commands.options import CommandLine, with_options
from drain.commands.output import TextOrJson, console, print_json
from drain.commands.solve import SolveFormat


class Rating(StrEnum):
    up = "up"
    down = "down"


class ExportFormat(StrEnum):
    chat = "chat"


class FeedbackChoice(StrEnum):
    up = "up"
    not_down = "not-down"
    all = "all"


MAX_NOTE_CHARS = 1000  # a vote's note, as the API's /v1/feedback allows


def _store(cli: CommandLine) -> Any:
    from drain.store import open_default_store

    return open_default_store(cli.config, best_effort=False)  # a read that cannot be done: one line, exit 1


@with_options()
def runs(
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=10000, help="How many runs, newest first."),
    fmt: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f", help="text or json."),
    *,
    cli: CommandLine,
) -> None:
    """List recent runs (every logged solve: CLI, library, batch, API) with their ids."""
    rows = _store(cli).list_runs(limit=limit)
    for row in rows:
        row["created"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(row["created_at"]))
    if fmt is TextOrJson.json:
        print_json(rows)
        return
    if not rows:
        sys.stderr.write('no runs yet; try: drain solve "leaking basement on budget"\n')
        return
    from rich import box
    from rich.table import Table

    cells = []
    for row in rows:
        tokens = (row["prompt_tokens"] or 0) + (row["completion_tokens"] or 0)
        cells.append([row["id"], time.strftime("%m-%d %H:%M", time.localtime(row["created_at"])), row["source"],
                      row["status"], str(row["llm_calls"] or 0), f"{tokens:,}", str(row["feedback"]), row["problem"]])
    table = Table(show_header=True, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    names = ("run", "when", "source", "status", "calls", "tokens", "votes")
    for index, name in enumerate(names):
        width = max(len(name), *(len(line[index]) for line in cells))
        table.add_column(name, justify="right" if index >= 4 else "left", no_wrap=True, min_width=width)
    table.add_column("problem", overflow="ellipsis", no_wrap=True, min_width=12)
    for line in cells:
        table.add_row(*line)
    out = console()
    if not sys.stdout.isatty():
        out.width = 160  # piped: keep the problems readable
    out.print(table)


@with_options()
def show(
    run: str = typer.Argument(..., help="Run id (or a unique prefix of at least 4 characters)."),
    fmt: SolveFormat = typer.Option(SolveFormat.tree, "--format", "-f", help="tree, json or markdown."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
    *,
    cli: CommandLine,
) -> None:
    """Show a stored run's solution tree again, in any output format."""
    from drain.commands.solve import emit

    emit(_store(cli).get_tree(run), fmt, output)


@with_options()
def feedback(
    run: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    rating: Rating = typer.Option(..., "--rating", "-r", help="up or down."),
    idea: int | None = typer.Option(None, "--idea", "-i", min=1, help="Rate idea N (numbered as shown) only."),
    note: str | None = typer.Option(None, "--note", help="Why, in a few words."),
    *,
    cli: CommandLine,
) -> None:
    """Rate a run, or one of its ideas, up or down; training export uses these votes."""
    if note is not None and len(note) > MAX_NOTE_CHARS:  # the API's limit too
        from drain.errors import InputError

        raise InputError(f"the note is {len(note):,} characters; keep it under {MAX_NOTE_CHARS:,}")
    store = _store(cli)
    run_id = store.get_run(run)["id"]
    number = store.add_feedback(run_id, rating=rating.value, idea=idea, note=note, source="cli")
    target = f"idea {idea} of run {run_id}" if idea is not None else f"run {run_id}"
    typer.echo(f"recorded: {target} rated {rating.value} (feedback {number})")


@with_options()
def export(
    fmt: ExportFormat = typer.Option(ExportFormat.chat, "--format", "-f", help="chat: {'messages': [...]} lines."),
    output: Path = typer.Option(..., "--output", "-o", help="The training file (JSONL)."),
    feedback_filter: FeedbackChoice = typer.Option(FeedbackChoice.not_down, "--feedback",
                                                   help="up (only up-voted), not-down (default) or all."),
    holdout: float = typer.Option(0.0, "--holdout", min=0.0, max=0.99,
                                  help="Share of problems held out (0.1 = 10%), by problem, stable."),
    heldout_output: Path | None = typer.Option(None, "--heldout-output",
                                               help="Held-out file (default: OUTPUT with .heldout before .jsonl)."),
    seed: int = typer.Option(0, "--seed", help="Changes which problems are held out."),
    source: list[str] = typer.Option([], "--source", help="Only runs from this source (cli, batch, api ...)."),
    step: list[str] = typer.Option([], "--step", help="Only this planner step (frame, resolve ...)."),
    keep_reasks: bool = typer.Option(False, "--keep-reasks", help="Keep the re-ask turns of corrected replies."),
    *,
    cli: CommandLine,
) -> None:
    """Write chat-format training examples: one per model step, the planner's prompt and the accepted reply."""
    from drain.export import FeedbackFilter, export_chat

    del fmt  # chat is the one format so far
    report = export_chat(_store(cli), output, feedback=FeedbackFilter(feedback_filter.value), holdout=holdout,
                         heldout_output=heldout_output, seed=seed, keep_reasks=keep_reasks, sources=source,
                         steps=step)
    held = f", {report.heldout} held out to {report.paths[1]}" if len(report.paths) > 1 else ""
    typer.echo(f"wrote {report.written} examples to {output}{held} ({report.considered} accepted steps; "
               f"{report.filtered} left out by --feedback {feedback_filter.value}, {report.duplicates} duplicates)",
               err=True)


store_app = typer.Typer(name="store", help="The run store's SQLite file: check it, repair it.", no_args_is_help=True,
                        add_completion=False, rich_markup_mode=None)


def _counts(counts: dict[str, int]) -> str:
    names = {"runs": "runs", "exchanges": "model exchanges", "feedback": "votes"}
    return ", ".join(f"{counts[table]:,} {names[table]}" for table in names if table in counts)


@store_app.command("check")
@with_options()
def store_check(fmt: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f", help="text or json."), *,
                cli: CommandLine) -> None:
    """Check the run store (SQLite's integrity check); exit 1 when it is damaged."""
    from drain.errors import StoreDamagedError
    from drain.store_repair import check_store

    check = check_store(cli.config.store_path)
    if fmt is TextOrJson.json:
        print_json({"path": str(check.path), "exists": check.exists, "ok": check.ok, "problems": check.problems,
                    "counts": check.counts, "version": check.version})
    elif not check.exists:
        typer.echo(f"no run store yet at {check.path} (the first solve creates it)")
    elif check.ok:
        typer.echo(f"ok: {check.path} (schema {check.version}; {_counts(check.counts)})")
    else:
        for problem in check.problems[:5]:
            typer.echo(f"  {problem}")
    if not check.ok:
        more = f" and {len(check.problems) - 1} more" if len(check.problems) > 1 else ""
        raise StoreDamagedError(f"the run store at {check.path} is damaged ({check.problems[0]}{more}); "
                                "repair it with `drain store repair` (it keeps a copy of the bad file)")


@store_app.command("repair")
@with_options()
def store_repair(force: bool = typer.Option(False, "--force", help="Rebuild it even when it checks ok."), *,
                 cli: CommandLine) -> None:
    """Rebuild a damaged run store from every row SQLite can still read; the bad file is kept beside it."""
    from drain.store_repair import repair_store

    report = repair_store(cli.config.store_path, force=force)
    if not report.repaired:
        typer.echo(f"nothing to repair: {report.path} " + ("checks ok" if report.path.exists() else "does not exist"))
        return
    if report.fresh:
        typer.echo(f"started a fresh run store at {report.path}: nothing in the damaged file could be read "
                   f"(it is kept as {report.backup})")
        return
    left_out = sum(report.unreadable.values()) + sum(report.orphans.values())
    typer.echo(f"repaired {report.path}: recovered {_counts(report.recovered)}"
               + (f"; {left_out:,} rows on damaged pages (or of lost runs) left out" if left_out else "")
               + f"; the damaged file is kept as {report.backup}")


def register(app: typer.Typer) -> None:
    app.add_typer(store_app)
    app.command("runs")(runs)
    app.command("show")(show)
    app.command("feedback")(feedback)
    app.command("export")(export)
