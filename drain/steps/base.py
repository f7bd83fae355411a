"""What every planner step shares: the request it sends and the reply model that is its schema and validator.

A step is one module. It owns the name of its template in ``prompts/``, the pydantic class of its reply
(made for this call's choices, so the JSON schema sent to the model and the validation of the reply are
one thing: no schema edited afterwards, no second check), and how a valid reply, or the lack of one,
changes the tree. The planner only runs the levels and the budget.

>>> from pydantic import BaseModel
>>> class Reply(BaseModel):
...     pairs: list[choice_of(["30x32", "30x25"])]
>>> schema_of(Reply)["properties"]["pairs"]["items"]["enum"]
['30x32', '30x25']
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

__all__ = ["Reply", "Request", "choice_of", "schema_of", "text"]


class Reply(BaseModel):
    """Base of reply models: no fields beyond the schema's."""

    model_config = ConfigDict(extra="forbid")


def text(low: int, high: int) -> Any:
    """A reply string of ``low`` to ``high`` characters (stripped)."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=low, max_length=high)]


def choice_of(values: list[str] | list[int]) -> Any:
    """A type that admits exactly ``values`` (an ``enum`` in the JSON schema)."""
    return Literal[tuple(values)]  # type: ignore[valid-type]


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]))
            return {k: walk(v) for k, v in node.items() if k not in ("$defs", "title")}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)


@cache
def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a reply model, with its definitions inlined and titles dropped (fewer tokens)."""
    return _inline(model.model_json_schema())


@dataclass(frozen=True)
class Request:
    """One model request, ready to send: the step, its messages, its reply model and a token limit."""

    step: str
    messages: list[dict[str, str]]
    reply_model: type[BaseModel]
    max_tokens: int

    @property
    def schema(self) -> dict[str, Any]:
        return schema_of(self.reply_model)
