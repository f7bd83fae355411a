"""The DRAIN adapter files: which LoRA adapter the embedded model applies, and installing one.

An explicit path wins, else the installed one, else the one shipped in ``drain/_model/``, else none.
``drain model install PATH`` copies an adapter into ``<DRAIN home>/models/drain-lora.gguf``; from then
on the embedded backend applies it by default (``--no-adapter`` runs the base model). ``home`` is the
DRAIN home of the configuration handed down (:class:`drain.config.DrainConfig`); None: the configured one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from drain.config import load_config
from drain.errors import InputError, ModelNotFoundError

__all__ = ["ADAPTER_NAME", "install_adapter", "installed_adapter", "resolve_adapter", "shipped_adapter"]

ADAPTER_NAME = "drain-lora.gguf"


def _home(home: Path | None) -> Path:
    return home if home is not None else load_config().home


def installed_adapter(home: Path | None = None) -> Path | None:
    """The adapter installed in the DRAIN home, if any."""
    path = _home(home) / "models" / ADAPTER_NAME
    return path if path.is_file() else None


def shipped_adapter() -> Path | None:
    """The trained DRAIN adapter shipped inside the package, if this build carries one."""
    path = Path(__file__).resolve().parent / "_model" / ADAPTER_NAME
    return path if path.is_file() else None


def resolve_adapter(explicit: Path | str | None, *, home: Path | None = None) -> Path | None:
    """The adapter to apply: ``explicit`` (must exist), else installed, else shipped, else None."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ModelNotFoundError(f"no adapter file at {path}")
        return path
    return installed_adapter(home) or shipped_adapter()


def install_adapter(source: Path, *, home: Path | None = None) -> Path:
    """Copy an adapter GGUF (a file, or a training output folder holding ``drain-lora.gguf``) into place."""
    if source.is_dir():
        source = source / ADAPTER_NAME
    if not source.is_file():
        raise InputError(f"no adapter at {source}")
    with source.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise InputError(f"{source} is not a GGUF file")
    target = _home(home) / "models" / ADAPTER_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target
