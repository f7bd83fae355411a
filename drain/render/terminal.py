"""The solution tree for a terminal: hazards first, then the ideal result, contradictions and ideas."""

from __future__ import annotations

from typing import Any

from drain.schema import Contradiction, Idea, Node, SolutionTree

__all__ = ["to_rich_tree"]


def _e(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _hazards(tree_node: Any, node: Node) -> None:
    for hazard in node.hazards:
        colour = "bold white on red" if hazard.severity == "stop" else "bold black on yellow"
        branch = tree_node.add(f"[{colour}] {hazard.category.replace('_', ' ').upper()} [/] {_e(hazard.message)}")
        for action in hazard.do_now:
            branch.add(f"[red]>[/] {_e(action)}")
        if hazard.professional:
            branch.add(f"[red]Call:[/] {_e(hazard.professional)}")


def _idea_label(number: int, idea: Idea) -> str:
    flags = f" [red](hazard: {', '.join(idea.hazards)})[/]" if idea.hazards else ""
    source = " [dim](home example)[/]" if idea.source == "example" else ""
    return (f"[bold]{number}.[/] [cyan]{idea.principle.id} {_e(idea.principle.name)}[/]: {_e(idea.idea)} "
            f"[dim]{idea.cost} · {idea.diy}[/]{flags}{source}")


def _contradiction(parent: Any, c: Contradiction, numbers: dict[int, int]) -> None:
    label = (f"[bold]Improve[/] {c.improving.id} {_e(c.improving.name)} [bold]vs[/] {c.worsening.id} "
             f"{_e(c.worsening.name)} [dim](confidence {c.confidence:.2f})[/]")
    branch = parent.add(label)
    if c.reason:
        branch.add(f"[dim]{_e(c.reason)}[/]")
    if not c.principles:
        branch.add(f"[yellow]No principles:[/] {_e(c.empty_cell_reason or 'empty cell')}")
        return
    cell = ", ".join(f"{p.id} {p.name}" for p in c.principles)
    branch.add(f"[dim]matrix {c.improving.id}x{c.worsening.id}: {_e(cell)}[/]")
    for idea in c.ideas:
        idea_branch = branch.add(_idea_label(numbers[id(idea)], idea))
        if idea.followup is not None:
            follow = idea_branch.add(f"[magenta]Then:[/] {_e(idea.followup.problem)}")
            _node_body(follow, idea.followup, numbers)


def _node_body(branch: Any, node: Node, numbers: dict[int, int]) -> None:
    _hazards(branch, node)
    for physical in node.physical_contradictions:
        sep = "; ".join(f"{s.name}: {', '.join(str(p.id) for p in s.principles)}" for s in physical.separations)
        branch.add(f"[bold]Both high and low:[/] {physical.parameter.id} {_e(physical.parameter.name)} "
                   f"[dim]({_e(physical.high_because)} / {_e(physical.low_because)}; separate in {sep})[/]")
    for contradiction in node.contradictions:
        _contradiction(branch, contradiction, numbers)
    for child in node.subproblems:
        _node_body(branch.add(f"[bold magenta]Part:[/] {_e(child.problem)}"), child, numbers)
    for note in node.notes:
        branch.add(f"[yellow]note:[/] {_e(note)}")


def to_rich_tree(tree: SolutionTree) -> Any:
    """A ``rich`` renderable of the whole solution."""
    from rich.console import Group
    from rich.text import Text
    from rich.tree import Tree

    numbers = {id(idea): number for number, idea in tree.numbered_ideas()}
    root = Tree(f"[bold]DRAIN[/] · {_e(tree.problem)}", guide_style="dim")
    _hazards(root, tree)
    if tree.ideal_final_result:
        root.add(f"[bold green]Ideal result:[/] {_e(tree.ideal_final_result)}")
    named = {k: v for k, v in tree.constraints.model_dump().items() if k != "named" and v != "unknown"}
    if named:
        root.add("[bold]Constraints:[/] " + ", ".join(f"{k} {v}" for k, v in named.items()))
    for warning in tree.input_warnings:
        root.add(f"[yellow]warning:[/] {_e(warning)}")
    _node_body(root, tree.model_copy(update={"hazards": []}), numbers)
    stats = tree.stats
    footer = Text(
        f"{stats.llm_calls} model calls · {stats.prompt_tokens:,} prompt + {stats.completion_tokens:,} completion "
        f"tokens · {stats.wall_seconds:.1f} s ({stats.model_seconds:.1f} s in the model)"
        + (f" · run {tree.run_id}" if tree.run_id else ""),
        style="dim",
    )
    return Group(root, footer)
