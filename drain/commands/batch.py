"""``drain batch FILE``: solve a whole file of problems, resumably, with a progress bar and a summary."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from drain.commands.common import check_output_path
from drain.commands.options import BACKEND, LOGGING, PLANNER, CommandLine, with_options
from drain.errors import InputError


class InputFormat(StrEnum):
    auto = "auto"
    jsonl = "jsonl"
    csv = "csv"
    txt = "txt"


class BatchProgress:
    """A rich progress bar (rate, ETA) on a terminal; a plain line now and then when stderr is piped."""

    def __init__(self, total: int, *, enabled: bool, interval: float = 10.0) -> None:
        self.total = total
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.interval = interval
        self.done = self.failed = 0
        self.started = self.last = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> BatchProgress:
        if self.enabled and self.tty:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                SpinnerColumn(), TextColumn("[bold]solving"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[failed]}"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=False, redirect_stdout=False, redirect_stderr=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("batch", total=self.total, rate="", failed="")
        return self

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        now = time.monotonic()
        rate = self.done / max(now - self.started, 1e-9)
        if self._bar is not None:
            self._bar.update(self._task, advance=1, rate=f"{rate:.2f}/s",
                             failed=f"[red]{self.failed} failed" if self.failed else "")
        elif self.enabled and (now - self.last >= self.interval or self.done == self.total):
            self.last = now
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            sys.stderr.write(f"drain batch: {self.done}/{self.total} done, {self.failed} failed, "
                             f"{rate:.2f}/s, ETA {_duration(left)}\n")
            sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _print_summary(stats: Any, output: str) -> None:
    from rich.console import Console
    from rich.table import Table

    rate = stats.solved / stats.seconds if stats.seconds > 0 else 0.0
    table = Table(title=f"drain batch -> {output}", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("solved", f"{stats.solved} ({stats.partial} partial)")
    table.add_row("failed", str(stats.failed))
    table.add_row("skipped (done before)", str(stats.skipped))
    if stats.not_attempted:
        table.add_row("not attempted (stopped)", str(stats.not_attempted))
    table.add_row("model calls", f"{stats.llm_calls:,}")
    table.add_row("tokens", f"{stats.tokens:,} ({stats.prompt_tokens:,} prompt + "
                            f"{stats.completion_tokens:,} completion)")
    table.add_row("time", f"{_duration(stats.seconds)} ({rate:.2f} problems/s)")
    Console(stderr=True, highlight=False).print(table)


def _warn(lines: list[str], what: str) -> None:
    if not lines:
        return
    shown = lines[:10]
    more = f" (and {len(lines) - 10} more)" if len(lines) > 10 else ""
    sys.stderr.write(f"drain batch: {len(lines)} {what}{more}:\n" + "".join(f"  {line}\n" for line in shown))


@with_options(PLANNER, BACKEND, LOGGING)
def batch(
    file: Path = typer.Argument(..., help="JSONL (id, problem), CSV (id, problem columns) or TXT (a problem a line)."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Output JSONL (default: FILE.results.jsonl); - writes to stdout."),
    input_format: InputFormat = typer.Option(InputFormat.auto, "--input-format", help="auto (from the name), jsonl, "
                                             "csv or txt."),
    concurrency: int = typer.Option(4, "--concurrency", "-j", min=1, max=1024,
                                    help="Model requests in flight (problems start as slots free up)."),
    summary: Path | None = typer.Option(None, "--summary", help="Also write a summary table (.csv or .parquet)."),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="Solve again the ids recorded as errors."),
    max_consecutive_failures: int = typer.Option(
        10, "--max-consecutive-failures", min=0, max=1_000_000,
        help="Stop when this many problems in a row fail (a server failing every request); the rest are recorded "
             "as not attempted and a rerun solves them. 0: never stop."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display (the summary is still shown)."),
    *,
    cli: CommandLine,
) -> None:
    """Solve every problem in FILE; one JSON line per input ({"id", "result"} or {"id", "error"}).

    Running it again with the same output skips the ids already done, so a killed batch resumes.
    """
    from drain.batch import BatchFailedError, BatchStats, BatchStoppedError, read_items

    if summary is not None and summary.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(f"--summary must end in .csv or .parquet, not {summary.name!r}")
    fmt = None if input_format is InputFormat.auto else input_format.value
    items = read_items(file, fmt)
    if not items:
        raise InputError(f"no problems found in {file} (it is empty, or a CSV with a header only)")
    to_stdout = output is not None and str(output) == "-"
    target = output or file.with_name(f"{file.stem}.results.jsonl")
    if not to_stdout and target.resolve() == file.resolve():
        raise InputError("--output must not be the input file")
    check_output_path(summary, "--summary")  # before the first model call, not after the whole batch
    settings = cli.planner_settings()
    config = cli.config
    if not config.slots and config.backend in ("embedded", "openai"):
        cli.config = config.replace(slots=min(concurrency, 16) if config.backend == "embedded" else concurrency)
    engine = cli.backend()
    stats = BatchStats(total=len(items))
    writer = _StdoutWriter() if to_stdout else _open_output(target, retry_errors)
    where = "standard output" if to_stdout else str(target)
    try:
        failures = _run(items, writer, engine, settings, stats, concurrency=concurrency, config=cli.config,
                        progress=not quiet, max_consecutive_failures=max_consecutive_failures or None)
    except BatchStoppedError as err:
        rerun = "" if to_stdout else "; run the same command again to solve them (--retry-errors also retries " \
                                     "the ones that failed)"
        raise BatchStoppedError(f"the batch {err}, recorded as not attempted in {where}{rerun}") from None
    finally:
        writer.close()
        if stats.seconds:
            _print_summary(stats, "stdout" if to_stdout else str(target))
    if summary is not None and not to_stdout:
        rows = write_summary(target, summary)
        sys.stderr.write(f"drain batch: wrote {summary} ({rows} rows)\n")
    if failures:
        raise BatchFailedError(f"{failures} of {len(items)} problems failed (their errors are recorded in {where})")


class _StdoutWriter:
    done: Any = None

    def write(self, record: dict[str, Any]) -> None:
        import json

        sys.stdout.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def close(self) -> None:
        pass


def _open_output(target: Path, retry_errors: bool) -> Any:
    from drain.batch import JsonlAppender, drop_errors, drop_not_attempted, read_done

    appender = JsonlAppender(target)
    pending = drop_not_attempted(target)  # a stopped batch's leftovers: solved now, recorded once
    if pending:
        appender.close()
        appender = JsonlAppender(target)
        sys.stderr.write(f"drain batch: {pending} problems a stopped batch did not attempt are solved now\n")
    if retry_errors:
        dropped = drop_errors(target)
        if dropped:  # the file was replaced: lock the new one
            appender.close()
            appender = JsonlAppender(target)
            sys.stderr.write(f"drain batch: retrying {dropped} problems recorded as errors\n")
    appender.done = read_done(target)
    if appender.done.repaired:
        sys.stderr.write(f"drain batch: cut off a torn last line ({appender.done.repaired} bytes) in {target}\n")
    return appender


def _run(items: list[Any], writer: Any, engine: Any, settings: Any, stats: Any, *, concurrency: int, config: Any,
         progress: bool, max_consecutive_failures: int | None = None) -> int:
    """Plan, record the input errors, solve the rest; returns how many of this input's problems failed, in this
    run or an earlier one recorded in the output (records of other inputs in the same file do not count)."""
    import asyncio

    from drain.batch import DoneRecords, RequestGate, plan_batch, run_batch
    from drain.planner import Planner

    done = writer.done or DoneRecords()
    plan = plan_batch(items, done)
    stats.skipped = plan.skipped
    _warn(plan.malformed, "malformed input lines, recorded as errors")
    _warn(plan.duplicates, "duplicate ids, recorded as errors (only the first is solved)")
    for record in plan.records:
        writer.write(record)
    stats.failed += len(plan.records)
    if plan.skipped:
        sys.stderr.write(f"drain batch: {plan.skipped} already done in the output, skipped\n")

    async def main(bar: BatchProgress) -> None:
        async with engine:
            gate = RequestGate(engine, concurrency)  # `concurrency` model requests in flight, all problems together
            planner = Planner(gate, settings, log=config.log, source="batch", config=config)
            if config.log:
                planner.store  # noqa: B018 - open (and migrate) the store once, before the workers start
            await run_batch(plan.todo, planner.solve_async, writer.write, gate=gate, stats=stats,
                            on_record=lambda item, record: bar.advance("error" in record),
                            max_consecutive_failures=max_consecutive_failures)

    with BatchProgress(len(plan.todo), enabled=progress and bool(plan.todo)) as bar:
        if plan.todo:
            asyncio.run(main(bar))
        else:
            stats.seconds = max(stats.seconds, 1e-6)
    return stats.failed + sum(item.key in done.error_ids for item in items) + len(done.duplicate_lines)


def summary_rows(path: Path) -> list[dict[str, Any]]:
    """One flat row per record of an output file (for the CSV/Parquet summary)."""
    import json

    rows = []
    for raw in path.read_bytes().splitlines():
        if not raw.strip():
            continue
        record = json.loads(raw)
        result = record.get("result") or {}
        stats = result.get("stats") or {}
        status = "error" if "error" in record else ("partial" if stats.get("partial_nodes") else "ok")
        contradictions = result.get("contradictions") or []
        rows.append({
            "id": str(record["id"]),
            "status": status,
            "run_id": result.get("run_id"),
            "problem": result.get("problem"),
            "error": record.get("error"),
            "hazards": ", ".join(h["category"] for h in result.get("hazards") or []),
            "contradictions": "; ".join(f"{c['improving']['id']}x{c['worsening']['id']}" for c in contradictions),
            "ideas": sum(len(c.get("ideas") or []) for c in contradictions),
            "llm_calls": stats.get("llm_calls", 0),
            "prompt_tokens": stats.get("prompt_tokens", 0),
            "completion_tokens": stats.get("completion_tokens", 0),
            "wall_seconds": stats.get("wall_seconds", 0.0),
        })
    return rows


def write_summary(output: Path, summary: Path) -> int:
    """Write the summary of ``output`` to ``summary`` (``.csv`` or ``.parquet``) with pandas; returns rows."""

    import pandas as pd

    frame = pd.DataFrame(summary_rows(output), columns=[
        "id", "status", "run_id", "problem", "error", "hazards", "contradictions", "ideas", "llm_calls",
        "prompt_tokens", "completion_tokens", "wall_seconds"])
    try:
        if summary.suffix.lower() == ".parquet":
            frame.to_parquet(summary, index=False)
        else:
            frame.to_csv(summary, index=False)
    except ImportError:
        raise InputError("a Parquet summary needs pyarrow: pip install 'drain-tips[parquet]'") from None
    except OSError as err:
        raise InputError(f"cannot write {summary}: {err.strerror}") from None
    return len(frame)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
