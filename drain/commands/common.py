"""Options shared by the commands that run the planner (solve, batch, eval, serve)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from drain.errors import InputError

__all__ = ["BackendOptions", "PlannerOptions", "check_output_path", "make_backend", "make_settings",
           "read_text_input"]


class BackendName(StrEnum):
    embedded = "embedded"
    openai = "openai"
    fake = "fake"


class BackendOptions:
    """Typer options describing which model answers (kept together so every command offers the same)."""

    backend = typer.Option(BackendName.embedded, "--backend", "-b", help="embedded (default, offline) or openai.")
    model = typer.Option(None, "--model", "-m", help="GGUF file (embedded) or served model name (openai).")
    adapter = typer.Option(None, "--adapter", help="LoRA adapter GGUF for the embedded model (the DRAIN model).")
    no_adapter = typer.Option(False, "--no-adapter", help="Run the base model even if a DRAIN adapter is installed.")
    base_url = typer.Option(None, "--base-url", envvar="DRAIN_BASE_URL",
                            help="OpenAI-compatible server, e.g. http://localhost:8000/v1 (vLLM).")
    api_key = typer.Option(None, "--api-key", envvar="DRAIN_API_KEY", help="API key for --base-url (or DRAIN_API_KEY).")
    slots = typer.Option(None, "--slots", min=1, max=64, help="Parallel requests (embedded: model slots).")
    threads = typer.Option(None, "--threads", min=1, max=256,
                           help="CPU threads of the embedded model (default: one fewer than the CPUs, or "
                                "DRAIN_THREADS); fewer keeps it fast next to other busy programs.")


class PlannerOptions:
    depth = typer.Option(3, "--depth", "-d", min=1, max=5, help="Levels of problems: 1 = the problem alone.")
    max_calls = typer.Option(24, "--max-calls", min=1, max=500, help="Model calls per solve, re-asks included.")
    seed = typer.Option(0, "--seed", min=0, max=2**32 - 1,
                        help="Sampling seed (0 or more); temperature 0 with a seed repeats exactly.")
    temperature = typer.Option(0.0, "--temperature", min=0.0, max=2.0, help="0 is greedy and repeatable.")
    sequential = typer.Option(False, "--sequential", help="One model call at a time (for comparison).")
    timeout = typer.Option(None, "--timeout", min=0.1, max=86400.0,
                           help="Seconds a solve may take; then its model calls are stopped (exit 4). Also each "
                                "HTTP request's limit on the openai backend (default 60 s a request).")


def make_backend(backend: str, model: str | None, adapter: Path | None, no_adapter: bool, base_url: str | None,
                 api_key: str | None, slots: int | None, *, threads: int | None = None,
                 timeout: float | None = None) -> Any:
    """Build the backend the options describe (``timeout``: the openai backend's seconds per request)."""
    from drain.backends import get_backend

    name = str(backend)
    if adapter is not None and no_adapter:
        raise InputError("--adapter and --no-adapter contradict each other: give one of them")
    if threads is not None and name != "embedded":
        raise InputError("--threads sets the embedded model's CPU threads; it does not apply to --backend " + name)
    if name == "embedded":
        from drain.models import resolve_adapter

        chosen = False if no_adapter else (resolve_adapter(adapter) if adapter else None)  # None: the default
        options: dict[str, Any] = {"model": model, "adapter": chosen, "threads": threads}
        if slots:
            options["slots"] = slots
        return get_backend("embedded", **options)
    if name == "openai":
        from drain.backends.openai import DEFAULT_TIMEOUT

        return get_backend("openai", base_url=base_url, model=model, api_key=api_key, slots=slots or 8,
                           timeout=timeout or DEFAULT_TIMEOUT)
    if adapter is not None:
        raise InputError("--adapter works with the embedded backend only")
    return get_backend(name)


def make_settings(depth: int, max_calls: int, seed: int, temperature: float, sequential: bool,
                  timeout: float | None = None) -> Any:
    from drain.planner import PlannerSettings

    return PlannerSettings(depth=depth, max_calls=max_calls, seed=seed, temperature=temperature,
                           concurrency=1 if sequential else None, timeout=timeout)


def check_output_path(path: Path | None, option: str = "--output") -> None:
    """Fail now, before any model call, when ``path`` cannot be written (a missing or read-only folder,
    a folder in its place); ``None`` and ``-`` (standard output) pass. Nothing is left behind."""
    import tempfile

    if path is None or str(path) == "-":
        return
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder: give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"cannot write {option} {path}: the folder {folder} does not exist")
    try:
        if path.exists():
            with path.open("ab"):  # opened for appending and closed: the file is not changed
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".drain-check-"):
                pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise InputError(f"cannot write {option} {path}: {reason} (is {folder} read-only?)") from None


def read_text_input(text: str | None, file: Path | None) -> str:
    """The problem from the argument, ``-`` (standard input) or ``--file``, as checked text."""
    from drain.problem import decode_input

    if file is not None and text is not None:
        raise InputError("give the problem as text or with --file, not both")
    if file is not None:
        try:
            data = file.read_bytes()
        except OSError as err:
            raise InputError(f"cannot read {file}: {err.strerror}") from None
        return decode_input(data, source=str(file))
    if text is None:
        raise InputError('give a problem: drain solve "leaking basement on budget" (or - to read standard input)')
    if text == "-":
        return decode_input(sys.stdin.buffer.read())
    return text
