"""DRAIN's errors: one tree rooted at :class:`DrainError`, and the exit codes the command line gives them.

Every error DRAIN raises on purpose is a :class:`DrainError`; the TRIZ core raises its own small semantic
errors (:class:`triz.errors.TrizError`), which DRAIN maps here. The command line turns either into one
line on stderr and the exit code of :func:`exit_code`; anything else is a bug (exit 70, the traceback
with ``--debug``). :data:`EXIT_CODES` is the table the README's "Exit codes" section spells out (a test
keeps the two in step).

>>> try:
...     raise UnknownParameterError("no parameter 40: ids run from 1 to 39")
... except KNOWN_ERRORS as err:
...     print(exit_code(err), err)
2 no parameter 40: ids run from 1 to 39
>>> exit_code(StoreBusyError("busy")), exit_code(BatchFailedError("2 of 9 failed")), exit_code(ValueError())
(1, 5, 70)
"""

from __future__ import annotations

from triz.errors import (
    DataFileError,
    TrizError,
    UnknownParameterError,
    UnknownPrincipleError,
    UnknownRecordError,
    describe_validation_error,
    first_validation_problem,
)

__all__ = [
    "EXIT_CODES",
    "KNOWN_ERRORS",
    "AmbiguousRunError",
    "BackendError",
    "BackendUnavailableError",
    "BatchFailedError",
    "BatchStoppedError",
    "CallBudgetExhausted",
    "DataFileError",
    "DrainError",
    "ExportError",
    "FeedbackConflictError",
    "InputError",
    "ModelNotFoundError",
    "ModelTimeoutError",
    "ReplyValidationError",
    "StoreBusyError",
    "StoreDamagedError",
    "StoreError",
    "TrainingDependencyError",
    "TrizError",
    "UnknownParameterError",
    "UnknownPrincipleError",
    "UnknownRecordError",
    "UnknownRunError",
    "describe_validation_error",
    "exit_code",
    "first_validation_problem",
]

# The exit codes, each with the words the README's table starts its meaning with.
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "a DRAIN error not covered below",
    2: "bad input",
    3: "a data file under matrix/ or prompts/ is malformed",
    4: "the model or server is unavailable",
    5: "a batch or evaluation finished, but some rows failed",
    70: "internal error",
    130: "interrupted",
}
INTERNAL = 70
INTERRUPTED = 130


class DrainError(Exception):
    """Base of every deliberate DRAIN error; ``exit_code`` is what the command line exits with."""

    exit_code: int = 1


# ------------------------------------------------------------------------------------------------ input (2)
class InputError(DrainError, ValueError):
    """The user's input cannot be used: empty, too long, not text, a malformed file, contradicting options."""

    exit_code = 2


class FeedbackConflictError(InputError):
    """A vote's ``client_event_id`` was already used for a different vote; the new one is not stored."""


# ------------------------------------------------------------------------------------------------ model (4)
class BackendError(DrainError):
    """A model backend failed to answer."""

    exit_code = 4


class BackendUnavailableError(BackendError):
    """The server cannot be reached, refuses us, or does not serve the model asked for."""


class ModelNotFoundError(BackendError):
    """The model file is not installed; the message names the command that installs it."""


class ModelTimeoutError(BackendUnavailableError):
    """The model did not answer in the time it was given (a request's or a solve's ``timeout``)."""


class TrainingDependencyError(DrainError):
    """torch, transformers or another training package is not installed."""

    exit_code = 4


class ReplyValidationError(DrainError):
    """A model reply failed its step's reply model twice (after one re-ask); carries every attempt as
    ``(reply text, error)``. The planner catches it and lets the library's ranking stand in."""

    def __init__(self, step: str, attempts: list[tuple[str, str]]) -> None:
        self.step = step
        self.attempts = attempts
        self.error = attempts[-1][1] if attempts else "no valid reply"
        super().__init__(f"{step}: the model's reply failed validation {len(attempts)} times: {self.error}")


class CallBudgetExhausted(DrainError):
    """A solve reached its ``max_calls``; the planner marks the node partial (never reaches the user)."""


# ------------------------------------------------------------------------------------------------ store (1)
class StoreError(DrainError):
    """The run store (SQLite) cannot be opened or written, or a run id is unknown."""


class StoreBusyError(StoreError):
    """Another program held the store locked for longer than this store waits."""


class StoreDamagedError(StoreError):
    """The SQLite file is corrupt or not a database; the message says how to check, repair or move it."""


class UnknownRunError(StoreError):
    """No run has this id (or id prefix)."""


class AmbiguousRunError(UnknownRunError):
    """More than one run starts with this id prefix."""


# ------------------------------------------------------------------------------------------ batch, training
class BatchFailedError(DrainError):
    """The batch finished but some problems failed; each failure is a record in the output."""

    exit_code = 5


class BatchStoppedError(DrainError):
    """The batch stopped after too many failures in a row (the server is failing every request); the
    problems it did not attempt are recorded as such, and running it again solves them."""

    exit_code = 4


class ExportError(DrainError):
    """The adapter cannot be written as a llama.cpp adapter, or llama.cpp disagrees with torch."""


# The TRIZ core's errors, mapped (the core itself knows nothing of exit codes).
_TRIZ_EXIT_CODES: dict[type[TrizError], int] = {
    UnknownParameterError: 2,
    UnknownPrincipleError: 2,
    UnknownRecordError: 2,
    DataFileError: 3,
}
KNOWN_ERRORS: tuple[type[Exception], ...] = (DrainError, TrizError)  # what gets one line instead of a traceback


def exit_code(err: BaseException) -> int:
    """The exit code for ``err``: a DRAIN error's own, a TRIZ error's mapped one, 130 for an interrupt,
    70 (internal) for anything else."""
    if isinstance(err, DrainError):
        return err.exit_code
    if isinstance(err, TrizError):
        return next((code for kind, code in _TRIZ_EXIT_CODES.items() if isinstance(err, kind)), 1)
    if isinstance(err, KeyboardInterrupt):
        return INTERRUPTED
    return INTERNAL
