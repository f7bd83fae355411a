"""The ``drain`` command: a thin Typer shell over the library.

Every command lives in ``drain/commands/``; heavy imports happen inside the commands, so that
``drain --help`` and ``drain matrix 1 14`` start fast. Errors become one line and an exit code
(see ``drain.errors``); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# Matrix-vector products of the size DRAIN does (a query against the house library) gain nothing from
# several BLAS threads, and threads that spin on a busy laptop cost 20x: one, unless the user says otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer

from drain.commands import knowledge

app = typer.Typer(
    name="drain",
    help="DRAIN: TRIZ reasoning for house problems. Try: drain solve \"leaking basement on budget\"",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from drain import __version__

        typer.echo(f"drain {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    context: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """DRAIN: TRIZ reasoning for house problems."""
    from drain.commands.options import CliState

    if not isinstance(context.obj, CliState):  # the app run without main(), as Typer's test runner does
        context.obj = CliState()
    if debug:
        context.obj.config = context.obj.config.replace(debug=True)


knowledge.register(app)

_LAZY_GROUPS = ("solve", "store", "batch", "evaluate", "dataset", "training", "serving", "kb", "device")
for _module in _LAZY_GROUPS:
    try:
        __import__(f"drain.commands.{_module}")
    except ModuleNotFoundError as _err:  # a command group not written yet, or an optional extra
        if _err.name != f"drain.commands.{_module}":
            raise
    else:
        sys.modules[f"drain.commands.{_module}"].register(app)


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"drain: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``drain`` console script: builds the configuration once (``drain.config``), runs
    the command with it, and turns every error into one line and its exit code (``drain.errors``)."""
    from drain.commands.options import CliState
    from drain.errors import KNOWN_ERRORS, exit_code

    args = list(sys.argv[1:] if argv is None else argv)
    state: CliState | None = None
    try:
        state = CliState()  # reads config.toml and the environment: a bad setting is one line too
        code = app(args=args, prog_name="drain", standalone_mode=False, obj=state)
    except typer.Exit as exit_:
        code = exit_.exit_code
    except typer.Abort:
        _fail("interrupted", 130)
    except KNOWN_ERRORS as err:
        if _debug(state, args):
            raise
        _fail(str(err), exit_code(err))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(0) from None
    except Exception as err:
        if _is_usage_error(err):  # Typer's (vendored click's) usage errors: a message and exit code 2
            if _debug(state, args):
                raise
            context = getattr(err, "ctx", None)
            if context is not None:
                sys.stderr.write(context.get_usage() + "\n")
            _fail(err.format_message(), err.exit_code)  # type: ignore[attr-defined]
        if _debug(state, args):
            raise
        _fail(f"internal error ({type(err).__name__}: {err}); rerun with --debug for the traceback", 70)
    raise SystemExit(code if isinstance(code, int) else 0)


def _debug(state: Any, args: list[str]) -> bool:
    """``--debug`` (before the command) or ``DRAIN_DEBUG=1``; before the configuration was read, ``--debug``."""
    return bool(state.config.debug) if state is not None else "--debug" in args


def _is_usage_error(err: Exception) -> bool:
    return hasattr(err, "format_message") and isinstance(getattr(err, "exit_code", None), int)
