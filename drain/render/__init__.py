"""Renderers of a :class:`~drain.schema.SolutionTree`: a rich terminal tree, Markdown and JSON.

Model text is data: it is escaped for rich markup and Markdown before it is shown.
"""

from drain.render.markdown import to_markdown
from drain.render.terminal import to_rich_tree

__all__ = ["to_json", "to_markdown", "to_rich_tree"]


def to_json(tree: object) -> str:
    """The solve JSON contract, indented."""
    return tree.model_dump_json(indent=2)  # type: ignore[attr-defined]
