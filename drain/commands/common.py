"""Options shared by the commands that run the planner (solve, batch, eval, serve)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from drain.errors import InputError

__all__ = ["BackendOptions", "PlannerOptions", "make_backend", "make_settings", "read_text_input"]


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


class PlannerOptions:
    depth = typer.Option(2, "--depth", "-d", min=1, max=5, help="Levels of problems: 1 = the problem alone.")
    max_calls = typer.Option(24, "--max-calls", min=1, max=500, help="Model calls per solve, re-asks included.")
    seed = typer.Option(0, "--seed", help="Sampling seed; temperature 0 with a seed repeats exactly.")
    temperature = typer.Option(0.0, "--temperature", min=0.0, max=2.0, help="0 is greedy and repeatable.")
    sequential = typer.Option(False, "--sequential", help="One model call at a time (for comparison).")


def make_backend(backend: str, model: str | None, adapter: Path | None, no_adapter: bool, base_url: str | None,
                 api_key: str | None, slots: int | None) -> Any:
    """Build the backend the options describe."""
    from drain.backends import get_backend

    name = str(backend)
    if name == "embedded":
        from drain.models import resolve_adapter

        chosen = False if no_adapter else (resolve_adapter(adapter) if adapter else None)  # None: the default
        options: dict[str, Any] = {"model": model, "adapter": chosen}
        if slots:
            options["slots"] = slots
        return get_backend("embedded", **options)
    if name == "openai":
        return get_backend("openai", base_url=base_url, model=model, api_key=api_key, slots=slots or 8)
    if adapter is not None:
        raise InputError("--adapter works with the embedded backend only")
    return get_backend(name)


def make_settings(depth: int, max_calls: int, seed: int, temperature: float, sequential: bool) -> Any:
    from drain.planner import PlannerSettings

    return PlannerSettings(depth=depth, max_calls=max_calls, seed=seed, temperature=temperature,
                           concurrency=1 if sequential else None)


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
