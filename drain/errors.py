"""DRAIN's errors: one hierarchy rooted at :class:`DrainError` (defined in ``triz.errors``).

Exit codes, as the CLI uses them (README, "Exit codes"):

=====  ==========================================================
0      success
1      a DRAIN error not covered below
2      bad input: usage, an unknown parameter/principle, a bad problem text or file
3      a data file under ``matrix/`` or ``prompts/`` is malformed
4      the model or server is unavailable (missing model file, unreachable server, unknown model)
5      a batch or evaluation finished, but some rows failed (they are recorded)
70     internal error (a bug): rerun with ``--debug`` for the traceback
130    interrupted
=====  ==========================================================
"""

from __future__ import annotations

from triz.errors import DataFileError, DrainError, TrizError, UnknownParameterError, UnknownPrincipleError

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "DataFileError",
    "DrainError",
    "InputError",
    "ModelNotFoundError",
    "ReplyValidationError",
    "StoreError",
    "TrizError",
    "UnknownParameterError",
    "UnknownPrincipleError",
]


class InputError(DrainError, ValueError):
    """The user's input cannot be used: empty, too long, not text, a malformed file."""

    exit_code = 2


class BackendError(DrainError):
    """A model backend failed to answer."""

    exit_code = 4


class BackendUnavailableError(BackendError):
    """The server cannot be reached, refuses us, or does not serve the model asked for."""


class ModelNotFoundError(BackendError):
    """The model file is not installed; the message names the command that installs it."""


class ReplyValidationError(DrainError):
    """A model reply failed its schema twice (after one re-ask); carries every attempt."""

    def __init__(self, step: str, attempts: list[tuple[str, str]]) -> None:
        self.step = step
        self.attempts = attempts
        super().__init__(f"{step}: the model's reply failed validation {len(attempts)} times: {attempts[-1][1]}")


class StoreError(DrainError):
    """The run store (SQLite) cannot be opened or written, or a run id is unknown."""
