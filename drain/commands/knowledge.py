"""``drain matrix``, ``drain principle``, ``drain parameter``, ``drain hazards``: the TRIZ core, queried."""

from __future__ import annotations

from typing import Any

import typer

from drain.commands.options import CommandLine, with_options
from drain.commands.output import TextOrJson, console, print_json
from drain.knowledge_json import cell_json, principle_json

FORMAT = typer.Option(TextOrJson.text, "--format", "-f", help="text or json.")


def matrix(
    improving: str | None = typer.Argument(None, help="Improving parameter: id or name."),
    worsening: str | None = typer.Argument(None, help="Worsening parameter: id or name."),
    all_cells: bool = typer.Option(False, "--all", help="Every non-empty cell."),
    fmt: TextOrJson = FORMAT,
    *,
    cli: CommandLine,
) -> None:
    """Look up the contradiction matrix: `drain matrix 1 14`, `drain matrix strength "weight of moving object"`.

    With one parameter, the whole row of the improving parameter; with --all, every non-empty cell.
    """
    knowledge = cli.config.knowledge(lazy=True)
    if all_cells:
        if improving is not None:
            raise typer.BadParameter("--all takes no parameters")
        _print_all(knowledge, fmt)
        return
    if improving is None:
        raise typer.BadParameter("give an improving parameter (and a worsening one), or --all")
    if worsening is None:
        _print_row(knowledge, knowledge.parameter_names[knowledge.parameter_id(improving)], fmt)
        return
    result = cell_json(improving, worsening, knowledge)
    if fmt is TextOrJson.json:
        print_json(result)
        return
    out = console()
    first, second = result["improving"], result["worsening"]
    out.print(f"[bold]Improving[/] {first['id']} {first['name']}  "
              f"[bold]while worsening[/] {second['id']} {second['name']}")
    if "reason" in result:
        out.print(f"[yellow]No principles:[/] {result['reason']}")
        return
    for rank, principle in enumerate(result["principles"], start=1):
        out.print(f"  {rank}. [bold cyan]{principle['id']} {principle['name']}[/]")
    out.print(f"Details: drain principle {result['principles'][0]['id']}")


def _print_row(knowledge: Any, param: Any, fmt: TextOrJson) -> None:
    row = [c for c in knowledge.matrix.cells() if c.improving == param.id]  # param: a NamedRow
    if fmt is TextOrJson.json:
        print_json([{"improving": c.improving, "worsening": c.worsening, "principles": list(c.principles)}
                    for c in row])
        return
    from rich.table import Table

    table = Table(title=f"Improving {param.id} {param.name}: {len(row)} non-empty cells")
    table.add_column("worsening")
    table.add_column("principles (published order)")
    for cell in row:
        names = ", ".join(f"{p} {knowledge.principle_names[p].name}" for p in cell.principles)
        table.add_row(f"{cell.worsening} {knowledge.parameter_names[cell.worsening].name}", names)
    console().print(table)


def _print_all(knowledge: Any, fmt: TextOrJson) -> None:
    cells = knowledge.matrix.cells()
    if fmt is TextOrJson.json:
        print_json([{"improving": c.improving, "worsening": c.worsening, "principles": list(c.principles)}
                    for c in cells])
        return
    from rich.table import Table

    table = Table(title=f"Contradiction matrix: {len(cells)} non-empty cells (improving x worsening)")
    for column in ("improving", "worsening", "principles"):
        table.add_column(column)
    for cell in cells:
        table.add_row(
            f"{cell.improving} {knowledge.parameter_names[cell.improving].name}",
            f"{cell.worsening} {knowledge.parameter_names[cell.worsening].name}",
            " ".join(str(p) for p in cell.principles),
        )
    console().print(table)


def principle(ref: str = typer.Argument(..., help="Principle id (1-40) or name."), fmt: TextOrJson = FORMAT, *,
              cli: CommandLine) -> None:
    """Show an inventive principle: sub-principles, home examples, where the matrix suggests it."""
    knowledge = cli.config.knowledge(lazy=True)
    found = knowledge.principle(ref)
    if fmt is TextOrJson.json:
        print_json(principle_json(found.id, knowledge))
        return
    cells = knowledge.matrix.cells_with(found.id)
    separations = [s.name for s in knowledge.separations if found.id in s.principles]
    out = console()
    also = f" (also: {', '.join(found.also_published_as)})" if found.also_published_as else ""
    out.print(f"[bold cyan]{found.id} {found.name}[/]{also}")
    out.print(found.summary)
    out.print("[bold]Sub-principles[/]")
    for letter, text in zip("abcdefgh", found.sub_principles, strict=False):
        out.print(f"  {letter}. {text}")
    out.print("[bold]At home[/]")
    for text in found.home_examples:
        out.print(f"  - {text}")
    out.print(f"Suggested in {len(cells)} matrix cells; separation: {', '.join(separations) or 'none'}.")


def parameter(
    text: str = typer.Argument(..., help="Words to search for (\"leak\", \"cheap\"), or a parameter id."),
    k: int = typer.Option(5, "--top", "-k", min=1, max=39, help="How many parameters to list."),
    fmt: TextOrJson = FORMAT,
    *,
    cli: CommandLine,
) -> None:
    """Find the TRIZ parameters a homeowner's words are about (or show one parameter by id)."""
    knowledge = cli.config.knowledge(lazy=True)
    if text.strip().isdigit():
        found = knowledge.parameter(text)
        if fmt is TextOrJson.json:
            print_json([{"id": found.id, "name": found.name, "score": 1.0, "matched": [text.strip()],
                         "description": found.description, "lexicon": list(found.lexicon)}])
            return
        out = console()
        out.print(f"[bold cyan]{found.id} {found.name}[/]")
        out.print(found.description)
        out.print("[bold]Homeowners say:[/] " + ", ".join(found.lexicon))
        return
    if not text.strip():
        raise typer.BadParameter("give some words to search for")
    ranked = knowledge.candidates(text, k)
    if fmt is TextOrJson.json:
        print_json([{"id": c.id, "name": c.name, "score": c.score, "matched": list(c.matched)} for c in ranked])
        return
    out = console()
    if not ranked:
        out.print(f"No parameter matches {text!r}. Try other words, or `drain matrix --all`.")
        return
    from rich.table import Table

    table = Table(title=f"Parameters for {text!r}")
    for column in ("id", "parameter", "score", "matched"):
        table.add_column(column)
    for c in ranked:
        table.add_row(str(c.id), c.name, f"{c.score:.2f}", ", ".join(c.matched))
    out.print(table)


def hazards(text: str = typer.Argument(..., help="A problem description."), fmt: TextOrJson = FORMAT, *,
            cli: CommandLine) -> None:
    """Check a problem description against the hazard rules."""
    found = cli.config.knowledge(lazy=True).check_hazards(text)
    if fmt is TextOrJson.json:
        print_json([h.model_dump(mode="json") for h in found])
        return
    out = console()
    aside = cli.config.knowledge(lazy=True).hazards.set_aside(text)
    if not found:
        out.print("No hazard rule fires on this text.")
    for h in aside:
        out.print(f"Set aside, told as dealt with, ruled out or asked about in general: "
                  f"{h.category.replace('_', ' ')} ({', '.join(h.matched)}). If the signs come back: {h.message}")
    for h in found:
        colour = "bold red" if h.severity == "stop" else "bold yellow"
        out.print(f"[{colour}]{h.category.replace('_', ' ').upper()}[/]: {h.message}")
        for action in h.do_now:
            out.print(f"  - {action}")
        out.print(f"  Call: {h.professional}")


def register(app: typer.Typer) -> None:
    for name, command in (("matrix", matrix), ("principle", principle), ("parameter", parameter),
                          ("hazards", hazards)):
        app.command(name)(with_options()(command))
