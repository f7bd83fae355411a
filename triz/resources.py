"""Find the project's data folders (``matrix/``, ``house/``, ``prompts/``) in a checkout and in an installed wheel.

In a checkout the folders sit at the repository's top level, beside the packages; the wheel carries
them inside the package as ``_data/<name>`` (see ``pyproject.toml``).

>>> (find_data_dir("matrix") / "canonical.csv").is_file()
True
"""

from __future__ import annotations

from pathlib import Path

from triz.errors import DataFileError

__all__ = ["find_data_dir"]

_PACKAGE_OF = {"matrix": "triz", "house": "triz", "prompts": "drain"}


def find_data_dir(name: str, override: str | Path | None = None) -> Path:
    """Return the folder holding the data set ``name`` ("matrix", "house" or "prompts"): ``override`` (a
    domain expert's working copy, which must be a folder), else the shipped one.

    The core reads no environment: DRAIN hands its ``DRAIN_MATRIX_DIR`` (and ``config.toml``'s
    ``matrix_dir``) down as ``override`` (``drain.config``).
    """
    if override is not None:
        path = Path(override)
        if not path.is_dir():
            raise DataFileError(path, None, f"the {name}/ folder given is not a folder")
        return path
    top = Path(__file__).resolve().parent.parent
    installed = top / _PACKAGE_OF[name] / "_data" / name
    checkout = top / name
    for candidate in (installed, checkout):
        if candidate.is_dir():
            return candidate
    raise DataFileError(checkout, None, f"the {name}/ data folder is missing from this installation")
