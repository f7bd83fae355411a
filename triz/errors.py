"""The TRIZ core's own small, semantic errors, and the one formatter of pydantic validation errors.

Every error the core raises on purpose is a :class:`TrizError`. The core knows nothing of command lines:
DRAIN maps each kind to an exit code and an HTTP status (``drain.errors``).

>>> try:
...     raise UnknownParameterError("no parameter 40: ids run from 1 to 39")
... except TrizError as err:
...     print(type(err).__name__, err)
UnknownParameterError no parameter 40: ids run from 1 to 39
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "DataFileError",
    "TrizError",
    "UnknownParameterError",
    "UnknownPrincipleError",
    "UnknownRecordError",
    "describe_validation_error",
    "first_validation_problem",
]


class TrizError(Exception):
    """Base of every deliberate error of the TRIZ core (a bad query, a bad data file)."""


class UnknownParameterError(TrizError, ValueError):
    """A parameter id outside 1..39, or a name that matches no parameter."""


class UnknownPrincipleError(TrizError, ValueError):
    """A principle id outside 1..40, or a name that matches no principle."""


class UnknownRecordError(TrizError, KeyError):
    """No family, card or case of the house library has that id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataFileError(TrizError):
    """A data file is malformed; the message names the file, line and problem."""

    def __init__(self, path: object, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}, line {line}" if line else self.path
        super().__init__(f"{where}: {problem}")


def first_validation_problem(errors: Any, *, default: str = "", skip: Iterable[str] = ()) -> tuple[str, str]:
    """Where (``steps.2``) and what of the first error of a pydantic ``ValidationError`` (or of its
    ``errors()`` list, as FastAPI hands it over); ``skip`` drops leading location parts such as ``body``.

    >>> first_validation_problem([{"loc": ("body", "votes", 0), "msg": "Value error, too long"}], skip={"body"})
    ('votes.0', 'too long')
    >>> first_validation_problem([{"loc": (), "msg": "Field required"}], default="reply")
    ('reply', 'Field required')
    """
    listed = errors.errors() if hasattr(errors, "errors") else list(errors)
    first: Mapping[str, Any] = listed[0] if listed else {}
    parts = [str(part) for part in first.get("loc", ())]
    if parts and parts[0] in set(skip):
        parts = parts[1:]
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return ".".join(parts) or default, message


def describe_validation_error(errors: Any, *, default: str = "") -> str:
    """One line for a pydantic validation error: ``where: what`` (just ``what`` when it has no place).

    >>> from pydantic import BaseModel, ValidationError
    >>> class Step(BaseModel):
    ...     minutes: int
    >>> try:
    ...     Step.model_validate({"minutes": "soon"})
    ... except ValidationError as err:
    ...     print(describe_validation_error(err))
    minutes: Input should be a valid integer, unable to parse string as an integer
    """
    where, message = first_validation_problem(errors, default=default)
    return f"{where}: {message}" if where else message
