"""The solution tree for a terminal: hazards first, then the quick checks, the ideal result, contradictions
and ideas (each fix card with its cost, DIY level and steps), the likely causes as parts, and follow-ups."""

from __future__ import annotations

from typing import Any

from drain.schema import Contradiction, Idea, Node, SolutionTree

_YES_NO = {True: "yes", False: "no"}

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
        if hazard.source == "similar" and hazard.similar_to:
            branch.add(f"[dim]raised because this sounds like: \"{_e(hazard.similar_to)}\"[/]")


def _idea_label(number: int, idea: Idea) -> str:
    flags = f" [red](hazard: {', '.join(idea.hazards)})[/]" if idea.hazards else ""
    source = {"example": " [dim](home example)[/]", "model": " [dim](the model's idea)[/]"}.get(idea.source, "")
    cost = f"${idea.cost_usd[0]:,}-${idea.cost_usd[1]:,}" if idea.cost_usd else idea.cost
    facts = [cost, idea.diy, *([idea.time] if idea.time else [])]
    if idea.permit and idea.permit != "none":
        facts.append(f"permit {idea.permit}")
    if idea.renter_ok:
        facts.append("renter-friendly")
    return (f"[bold]{number}.[/] [cyan]{idea.principle.id} {_e(idea.principle.name)}[/]: {_e(idea.idea)} "
            f"[dim]{_e(' · '.join(facts))}[/]{flags}{source}")


def _idea_body(branch: Any, idea: Idea) -> None:
    if idea.how:
        branch.add(f"[dim]how it is {idea.principle.name.lower()}: {_e(idea.how)}[/]")
    for step_number, step in enumerate(idea.steps, start=1):
        branch.add(f"{step_number}) {_e(step)}")
    if idea.call_pro:
        branch.add(f"[dim]call a pro: {_e(idea.call_pro)}[/]")
    if idea.card:
        branch.add(f"[dim]card {idea.card} · drain kb show {idea.card}[/]")


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
        _idea_body(idea_branch, idea)
        if idea.followup is not None:
            follow = idea_branch.add(f"[magenta]Then:[/] {_e(idea.followup.problem)}")
            _node_body(follow, idea.followup, numbers)
    for q in c.questions:
        branch.add(f"[dim]think about {q.principle.id} {_e(q.principle.name)}: {_e(q.question)}[/]")


def _node_body(branch: Any, node: Node, numbers: dict[int, int]) -> None:
    _hazards(branch, node)
    if node.check:
        branch.add(f"[bold]Check:[/] {_e(node.check)}")
    for physical in node.physical_contradictions:
        what = physical.property or f"{physical.parameter.id} {physical.parameter.name}"
        both = branch.add(f"[bold]Both high and low:[/] {_e(what)} [dim](high: {_e(physical.high_because)}; "
                          f"low: {_e(physical.low_because)})[/]")
        for separation in physical.separations:
            principles = ", ".join(f"{p.id} {p.name}" for p in separation.principles)
            how = f": {_e(separation.how)}" if separation.how else ""
            both.add(f"separate in {separation.name}{how} [dim]({_e(principles)})[/]")
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
    for hazard in tree.dealt_with:
        root.add(f"[dim]You said this was dealt with ({_e(hazard.category.replace('_', ' '))}). If the signs come "
                 f"back: {_e(hazard.message)}[/]")
    if tree.ideal_final_result:
        root.add(f"[bold green]Ideal result:[/] {_e(tree.ideal_final_result)}")
    named = {k: v for k, v in tree.constraints.model_dump().items() if k != "named" and v != "unknown"}
    if named:
        root.add("[bold]Constraints:[/] " + ", ".join(f"{k} {v}" for k, v in named.items()))
    for warning in tree.input_warnings:
        root.add(f"[yellow]warning:[/] {_e(warning)}")
    if tree.families:
        root.add(f"[bold]Looks like:[/] {_e(tree.families[0].name)} [dim](house library, match "
                 f"{tree.families[0].score:.2f})[/]")
    if tree.clarify is not None:
        root.add(f"[yellow]Not sure:[/] {_e(tree.clarify.question)} [dim](drain solve --ask asks first)[/]")
    if tree.diagnosis:
        checks = root.add("[bold]Check first[/] (what tells the likely causes apart):")
        for check in tree.diagnosis:
            checks.add(f"{_e(check.cause)} [dim]Check: {_e(check.check)}[/]")
    _node_body(root, tree.model_copy(update={"hazards": []}), numbers)
    stats = tree.stats
    footer = Text(
        f"{stats.llm_calls} model calls · {stats.prompt_tokens:,} prompt + {stats.completion_tokens:,} completion "
        f"tokens · {stats.wall_seconds:.1f} s ({stats.model_seconds:.1f} s in the model)"
        + (f" · run {tree.run_id}" if tree.run_id else ""),
        style="dim",
    )
    return Group(root, footer)
