"""The one error hierarchy of the project.

Every error DRAIN raises on purpose is a :class:`DrainError`. The command line turns it into a single
line on stderr and the exit code the class names; anything else is a bug and shows a traceback only
with ``--debug``.

>>> try:
...     raise UnknownParameterError("no parameter 40: ids run from 1 to 39")
... except DrainError as err:
...     print(err.exit_code, err)
2 no parameter 40: ids run from 1 to 39
"""

from __future__ import annotations

__all__ = [
    "DataFileError",
    "DrainError",
    "TrizError",
    "UnknownParameterError",
    "UnknownPrincipleError",
    "UnknownRecordError",
]


class DrainError(Exception):
    """Base of every deliberate DRAIN error; ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1


class TrizError(DrainError):
    """A problem with the TRIZ knowledge or a query against it."""


class UnknownParameterError(TrizError, ValueError):
    """A parameter id outside 1..39, or a name that matches no parameter."""

    exit_code = 2


class UnknownPrincipleError(TrizError, ValueError):
    """A principle id outside 1..40, or a name that matches no principle."""

    exit_code = 2


class UnknownRecordError(TrizError, KeyError):
    """No family, card or case of the house library has that id."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataFileError(TrizError):
    """A data file under ``matrix/`` is malformed; the message names the file, line and problem."""

    exit_code = 3

    def __init__(self, path: object, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}, line {line}" if line else self.path
        super().__init__(f"{where}: {problem}")
