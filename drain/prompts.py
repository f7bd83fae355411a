"""Prompt templates live in ``prompts/`` as Jinja2 files, one per planner step.

Each template defines two blocks, ``system`` (the part that never changes, first, so the model's
prompt cache can keep it) and ``user`` (this problem's data, last).

>>> library = PromptLibrary()
>>> messages = library.render("frame", problem="noisy furnace")
>>> [m["role"] for m in messages]
['system', 'user']
>>> "noisy furnace" in messages[1]["content"]
True
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from drain.errors import DataFileError
from triz.resources import find_data_dir

__all__ = ["PromptLibrary"]


class PromptLibrary:
    """Render the planner's prompts from a folder of ``<step>.j2`` templates."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = find_data_dir("prompts", folder)

    @cached_property
    def _environment(self) -> Any:
        import jinja2

        return jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.folder)),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,
        )

    def render(self, step: str, **context: Any) -> list[dict[str, str]]:
        """The chat messages for ``step`` filled with ``context``; control markers in its text values (the
        problem, a fix) are broken up first, so the model reads them as text (``neutralise_markers``)."""
        import jinja2

        from drain.problem import neutralise_markers

        context = {k: neutralise_markers(v) if isinstance(v, str) else v for k, v in context.items()}

        try:
            template = self._environment.get_template(f"{step}.j2")
            blocks = {}
            for name in ("system", "user"):
                if name not in template.blocks:
                    raise DataFileError(self.folder / f"{step}.j2", None, f"no {{% block {name} %}}")
                rendered = "".join(template.blocks[name](template.new_context(context)))
                blocks[name] = rendered.strip()
        except jinja2.TemplateNotFound:
            raise DataFileError(self.folder / f"{step}.j2", None, "template not found") from None
        except jinja2.TemplateSyntaxError as err:
            raise DataFileError(self.folder / f"{step}.j2", err.lineno, f"template syntax: {err.message}") from None
        except jinja2.UndefinedError as err:
            raise DataFileError(self.folder / f"{step}.j2", None, f"template uses an unknown value: {err}") from None
        return [{"role": "system", "content": blocks["system"]}, {"role": "user", "content": blocks["user"]}]

    def names(self) -> list[str]:
        """The steps that have a template."""
        return sorted(p.stem for p in self.folder.glob("*.j2"))
