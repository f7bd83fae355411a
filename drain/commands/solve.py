"""``drain solve``: one problem in, a TRIZ solution tree out (tree, JSON or Markdown)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from drain.commands.common import check_output_path, read_text_input
from drain.commands.options import BACKEND, LOGGING, PLANNER, CommandLine, with_options


class SolveFormat(StrEnum):
    tree = "tree"
    json = "json"
    markdown = "markdown"


def render(tree: Any, fmt: SolveFormat, *, width: int | None = None, color: bool = True) -> str:
    """The tree in ``fmt`` as text (the tree format without colour codes unless ``color``)."""
    from drain.render import to_json, to_markdown, to_rich_tree

    if fmt is SolveFormat.json:
        return to_json(tree) + "\n"
    if fmt is SolveFormat.markdown:
        return to_markdown(tree)
    from rich.console import Console

    console = Console(width=width or 100, record=True, file=open("/dev/null", "w"), color_system=None)  # noqa: SIM115
    console.print(to_rich_tree(tree))
    return console.export_text(styles=color)


class Progress:
    """Live progress on stderr while the planner works (only on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.live: Any = None
        self.level = 0
        self.calls = 0
        self.tree: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self.live = Live(self._view(), console=Console(stderr=True), refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "level":
            self.level, self.calls = data["level"], data["calls"]
        elif kind == "tree":
            self.tree = data["tree"]
        if self.live is not None:
            self.live.update(self._view())

    def _view(self) -> Any:
        from rich.console import Group
        from rich.spinner import Spinner

        status = Spinner("dots", text=f"thinking: level {self.level}, {self.calls} model calls in flight")
        if self.tree is None:
            return status
        from drain.render import to_rich_tree

        return Group(to_rich_tree(self.tree), status)


@with_options(PLANNER, BACKEND, LOGGING)
def solve(
    text: str | None = typer.Argument(None, help='The problem, e.g. "leaking basement on budget"; - reads stdin.'),
    file: Path | None = typer.Option(None, "--file", help="Read the problem from a text file."),
    fmt: SolveFormat = typer.Option(SolveFormat.tree, "--format", "-f", help="tree, json or markdown."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the result to this file."),
    ask: bool = typer.Option(False, "--ask", help="When two problem families fit about as well, ask which first."),
    family: str | None = typer.Option(None, "--family", help="Solve as this house-library family (drain kb show)."),
    no_library: bool = typer.Option(False, "--no-library", help="Without the house library (for comparison)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live progress."),
    *,
    cli: CommandLine,
) -> None:
    """Solve a house problem with TRIZ: hazards, ideal result, contradictions, principles, ideas, one level deeper."""
    import asyncio

    from drain.planner import Planner

    problem = read_text_input(text, file)
    check_output_path(output, "-o")  # before the first model call, not after the whole solve
    if no_library and (family is not None or ask):
        from drain.errors import InputError

        raise InputError("--family and --ask need the house library; leave out --no-library")
    settings = cli.planner_settings(grounded=not no_library)
    engine = cli.backend()
    config = cli.config
    grounder = None
    if settings.grounded and (ask or family):
        from drain.grounding.grounder import shared_grounder

        grounder = shared_grounder(config.knowledge(), config)
        if family is not None:
            grounder.library.family(family)  # an unknown id: one line, before any model work
        elif ask:
            family = ask_family(grounder, problem)

    async def run(progress: Progress) -> Any:
        async with engine:
            planner = Planner(engine, settings, grounder=grounder, on_event=progress.event, log=config.log,
                              source="cli", config=config)
            return await planner.solve_async(problem, family=family)

    with Progress(enabled=not quiet and sys.stderr.isatty()) as progress:
        tree = asyncio.run(run(progress))
    emit(tree, fmt, output)


def ask_family(grounder: Any, problem: str) -> str | None:
    """When the two best families are nearly tied, ask on the terminal which one it is (None: either)."""
    found = grounder.ground(problem)
    if not found.close_call or not sys.stdin.isatty():
        return None
    first, second = found.families[0].family, found.families[1].family
    typer.echo("Two kinds of problem fit about as well:", err=True)
    typer.echo(f"  1) {first.name}\n  2) {second.name}\n  3) not sure", err=True)
    answer = typer.prompt("Which is closer? [1/2/3]", default="3", err=True).strip()
    return {"1": first.id, "2": second.id}.get(answer)


def emit(tree: Any, fmt: SolveFormat, output: Path | None = None) -> None:
    """Write ``tree`` in ``fmt``: to ``output``, as a coloured tree on a terminal, or as plain text."""
    if output is not None:
        try:
            output.write_text(render(tree, fmt, color=False), encoding="utf-8")
        except OSError as err:
            from drain.errors import InputError

            raise InputError(f"cannot write {output}: {err.strerror}") from None
        typer.echo(f"wrote {output}" + (f" (run {tree.run_id})" if tree.run_id else ""), err=True)
        return
    if fmt is SolveFormat.tree and sys.stdout.isatty():
        from rich.console import Console

        from drain.render import to_rich_tree

        Console().print(to_rich_tree(tree))
        return
    sys.stdout.write(render(tree, fmt, color=False))
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("solve")(solve)
