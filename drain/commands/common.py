"""What the commands that run the planner share besides their options (``drain.commands.options``):
building the backend, checking an output path before any model call, reading the problem text."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from drain.config import DrainConfig
from drain.errors import InputError

__all__ = ["check_output_path", "make_backend", "read_text_input"]


def make_backend(config: DrainConfig, *, given: Mapping[str, Any] | None = None) -> Any:
    """Build the backend ``config`` describes. ``given``: the options as given on the command line, for the
    checks that name them (an option that does not apply to the backend chosen is one clear error)."""
    from drain.backends import get_backend

    given = given or {}
    name = config.backend
    if config.adapter is not None and config.no_adapter:
        raise InputError("--adapter and --no-adapter contradict each other: give one of them")
    if given.get("threads") is not None and name != "embedded":
        raise InputError("--threads sets the embedded model's CPU threads; it does not apply to --backend " + name)
    if given.get("writes_ideas") and name != "openai":
        raise InputError("--writes-ideas declares a large served model; it applies to --backend openai only, "
                         "not " + name)
    if name == "embedded":
        from drain.adapters import resolve_adapter

        adapter = None  # --no-adapter, or another model without --adapter: the model as it is
        if not config.no_adapter and (config.adapter is not None or config.model is None):
            adapter = resolve_adapter(config.adapter, home=config.home)  # explicit, else installed, else shipped
        options: dict[str, Any] = {"model": config.model, "adapter": adapter or False, "threads": config.threads}
        if config.slots:
            options["slots"] = config.slots
        return get_backend("embedded", **options)
    if name == "openai":
        from drain.backends.openai import DEFAULT_TIMEOUT

        return get_backend("openai", base_url=config.base_url, model=config.model, api_key=config.api_key,
                           slots=config.slots or 8, timeout=config.timeout or DEFAULT_TIMEOUT,
                           writes_ideas=config.writes_ideas)
    if config.adapter is not None:
        raise InputError("--adapter works with the embedded backend only")
    if name == "fake":
        return get_backend("fake", delay=config.fake_delay)
    return get_backend(name)


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
