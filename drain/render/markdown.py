"""The solution tree as Markdown (for notes, issues, e-mail)."""

from __future__ import annotations

import re

from drain.schema import Idea, Node, SolutionTree

__all__ = ["to_markdown"]

_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def _e(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


def _idea(lines: list[str], idea: Idea, number: int, indent: str) -> None:
    hazards = f" (hazard: {', '.join(idea.hazards)})" if idea.hazards else ""
    cost = f"${idea.cost_usd[0]:,}-${idea.cost_usd[1]:,}" if idea.cost_usd else idea.cost
    facts = ", ".join([cost, idea.diy, *([idea.time] if idea.time else []),
                       *([f"permit {idea.permit}"] if idea.permit and idea.permit != "none" else []),
                       *(["renter-friendly"] if idea.renter_ok else [])])
    source = f" [card `{idea.card}`]" if idea.card else " (the model's idea)" if idea.source == "model" else ""
    lines.append(f"{indent}  - {number}. *{idea.principle.id} {_e(idea.principle.name)}*: "
                 f"{_e(idea.idea)} ({_e(facts)}){hazards}{source}")
    lines.extend(f"{indent}    {n}. {_e(step)}" for n, step in enumerate(idea.steps, start=1))
    if idea.call_pro:
        lines.append(f"{indent}    - call a pro: {_e(idea.call_pro)}")


def _node(lines: list[str], node: Node, numbers: dict[int, int], indent: str) -> None:
    for hazard in node.hazards:
        lines.append(f"{indent}- **{hazard.category.replace('_', ' ').upper()} ({hazard.severity})**: "
                     f"{_e(hazard.message)}")
        lines.extend(f"{indent}  - {_e(action)}" for action in hazard.do_now)
        if hazard.source == "similar" and hazard.similar_to:
            lines.append(f"{indent}  - raised because this sounds like: \"{_e(hazard.similar_to)}\"")
    if node.check:
        lines.append(f"{indent}- check: {_e(node.check)}")
    for physical in node.physical_contradictions:
        what = physical.property or f"{physical.parameter.id} {physical.parameter.name}"
        lines.append(f"{indent}- both high and low: **{_e(what)}** (high: {_e(physical.high_because)}; "
                     f"low: {_e(physical.low_because)})")
        for separation in physical.separations:  # the library's way first; the others name their principles
            principles = ", ".join(f"{p.id} {_e(p.name)}" for p in separation.principles)
            how = f": {_e(separation.how)}" if separation.how else f" (principles {principles})"
            lines.append(f"{indent}  - separate in {separation.name}{how}")
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
            _idea(lines, idea, numbers[id(idea)], indent)
            if idea.followup is not None:
                lines.append(f"{indent}    - then: {_e(idea.followup.problem)}")
                _node(lines, idea.followup, numbers, indent + "      ")
        for q in c.questions:
            lines.append(f"{indent}  - think about {q.principle.id} {_e(q.principle.name)}: {_e(q.question)}")
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
    for hazard in tree.dealt_with:
        lines += [f"_You said this was dealt with ({_e(hazard.category.replace('_', ' '))}). If the signs come back: "
                  f"{_e(hazard.message)}_", ""]
    if tree.clarify is not None:
        lines += [f"**Not sure:** {_e(tree.clarify.question)}", ""]
    if tree.diagnosis:
        lines += ["## Check first", ""]
        lines += [f"- {_e(check.cause)} Check: {_e(check.check)}" for check in tree.diagnosis]
        lines.append("")
    if tree.ideal_final_result:
        lines += [f"**Ideal result:** {_e(tree.ideal_final_result)}", ""]
    if tree.families:
        lines += [f"**Looks like:** {_e(tree.families[0].name)} (house library match {tree.families[0].score:.2f})",
                  ""]
    lines += ["## Contradictions and ideas", ""]
    _node(lines, tree.model_copy(update={"hazards": []}), numbers, "")
    stats = tree.stats
    lines += ["", f"_{stats.llm_calls} model calls, {stats.prompt_tokens + stats.completion_tokens:,} tokens, "
                  f"{stats.wall_seconds:.1f} s" + (f", run {tree.run_id}" if tree.run_id else "") + "_", ""]
    return "\n".join(lines)
