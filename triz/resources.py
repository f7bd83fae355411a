"""Find the project's data folders (``matrix/``, ``house/``, ``prompts/``) in a checkout and in an installed wheel.

In a checkout the folders sit at the repository's top level, beside the packages; the wheel carries
them inside the package as ``_data/<name>`` (see ``pyproject.toml``).

>>> (find_data_dir("matrix") / "canonical.csv").is_file()
True
"""

from __future__ import annotations

import os
from pathlib import Path

from triz.errors import DataFileError

__all__ = ["find_data_dir"]

_PACKAGE_OF = {"matrix": "triz", "house": "triz", "prompts": "drain"}
_ENV_OVERRIDE = {"matrix": "DRAIN_MATRIX_DIR", "house": "DRAIN_HOUSE_DIR", "prompts": "DRAIN_PROMPTS_DIR"}


def find_data_dir(name: str) -> Path:
    """Return the folder holding the data set ``name`` ("matrix", "house" or "prompts").

    ``DRAIN_MATRIX_DIR`` / ``DRAIN_HOUSE_DIR`` / ``DRAIN_PROMPTS_DIR`` point somewhere else (a domain
    expert's working copy).
    """
    override = os.environ.get(_ENV_OVERRIDE[name])
    if override:
        path = Path(override)
        if not path.is_dir():
            raise DataFileError(path, None, f"{_ENV_OVERRIDE[name]} names no folder")
        return path
    top = Path(__file__).resolve().parent.parent
    installed = top / _PACKAGE_OF[name] / "_data" / name
    checkout = top / name
    for candidate in (installed, checkout):
        if candidate.is_dir():
            return candidate
    raise DataFileError(checkout, None, f"the {name}/ data folder is missing from this installation")
