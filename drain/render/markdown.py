"""The solution tree as Markdown (for notes, issues, e-mail)."""

from __future__ import annotations

import re

from drain.schema import Node, SolutionTree

__all__ = ["to_markdown"]

_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def _e(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


def _node(lines: list[str], node: Node, numbers: dict[int, int], indent: str) -> None:
    for hazard in node.hazards:
        lines.append(f"{indent}- **{hazard.category.replace('_', ' ').upper()} ({hazard.severity})**: "
                     f"{_e(hazard.message)}")
        lines.extend(f"{indent}  - {_e(action)}" for action in hazard.do_now)
    for c in node.contradictions:
        lines.append(f"{indent}- **Improve {c.improving.id} {_e(c.improving.name)}** while "
                     f"**{c.worsening.id} {_e(c.worsening.name)}** gets worse (confidence {c.confidence:.2f})")
        if c.reason:
            lines.append(f"{indent}  - {_e(c.reason)}")
        if not c.principles:
            lines.append(f"{indent}  - no principles: {_e(c.empty_cell_reason or 'empty cell')}")
            continue
        cell = ", ".join(f"{p.id} {_e(p.name)}" for p in c.principles)
        lines.append(f"{indent}  - matrix cell {c.improving.id}x{c.worsening.id}: {cell}")
        for idea in c.ideas:
            hazards = f" (hazard: {', '.join(idea.hazards)})" if idea.hazards else ""
            lines.append(f"{indent}  - {numbers[id(idea)]}. *{idea.principle.id} {_e(idea.principle.name)}*: "
                         f"{_e(idea.idea)} ({idea.cost}, {idea.diy}){hazards}")
            if idea.followup is not None:
                lines.append(f"{indent}    - then: {_e(idea.followup.problem)}")
                _node(lines, idea.followup, numbers, indent + "      ")
    for child in node.subproblems:
        lines.append(f"{indent}- part: **{_e(child.problem)}**")
        _node(lines, child, numbers, indent + "  ")
    lines.extend(f"{indent}- note: {_e(note)}" for note in node.notes)


def to_markdown(tree: SolutionTree) -> str:
    """A Markdown document: hazards first, then ideal result, contradictions, ideas and parts."""
    numbers = {id(idea): number for number, idea in tree.numbered_ideas()}
    lines = [f"# DRAIN: {_e(tree.problem)}", ""]
    if tree.hazards:
        lines += ["## Safety first", ""]
        _node(lines, Node(problem="", hazards=tree.hazards), numbers, "")
        lines.append("")
    if tree.ideal_final_result:
        lines += [f"**Ideal result:** {_e(tree.ideal_final_result)}", ""]
    lines += ["## Contradictions and ideas", ""]
    _node(lines, tree.model_copy(update={"hazards": []}), numbers, "")
    stats = tree.stats
    lines += ["", f"_{stats.llm_calls} model calls, {stats.prompt_tokens + stats.completion_tokens:,} tokens, "
                  f"{stats.wall_seconds:.1f} s" + (f", run {tree.run_id}" if tree.run_id else "") + "_", ""]
    return "\n".join(lines)
