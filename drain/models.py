"""Which DRAIN adapter the embedded model uses: an explicit path, else the installed one, else none.

``drain model install PATH`` copies an adapter into ``<DRAIN_HOME>/models/drain-lora.gguf``; from then
on the embedded backend applies it by default (``--no-adapter`` runs the base model).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from drain.errors import InputError, ModelNotFoundError
from drain.store import default_home

__all__ = ["install_adapter", "installed_adapter", "resolve_adapter", "shipped_adapter"]

ADAPTER_NAME = "drain-lora.gguf"


def installed_adapter() -> Path | None:
    """The adapter installed in the user directory, if any."""
    path = default_home() / "models" / ADAPTER_NAME
    return path if path.is_file() else None


def shipped_adapter() -> Path | None:
    """The trained DRAIN adapter shipped inside the package, if this build carries one."""
    path = Path(__file__).resolve().parent / "_model" / ADAPTER_NAME
    return path if path.is_file() else None


def resolve_adapter(explicit: Path | str | None) -> Path | None:
    """The adapter to apply: ``explicit`` (must exist), else installed, else shipped, else None."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ModelNotFoundError(f"no adapter file at {path}")
        return path
    return installed_adapter() or shipped_adapter()


def install_adapter(source: Path) -> Path:
    """Copy an adapter GGUF (a file, or a training output folder holding ``drain-lora.gguf``) into place."""
    if source.is_dir():
        source = source / ADAPTER_NAME
    if not source.is_file():
        raise InputError(f"no adapter at {source}")
    with source.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise InputError(f"{source} is not a GGUF file")
    target = default_home() / "models" / ADAPTER_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target
