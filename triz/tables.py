"""Plain-Python readers for the verified CSV tables (no pydantic), so quick lookups start fast.

>>> from triz.resources import find_data_dir
>>> cells = read_cells(find_data_dir("matrix"))
>>> len(cells), cells[(30, 32)]
(1248, (24, 35, 2))
>>> cell_problem(3, 3, (1,))
'the diagonal (3x3) is a physical contradiction and has no matrix cell'
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from triz.errors import DataFileError

__all__ = ["NamedRow", "cell_problem", "csv_rows", "read_cells", "read_named_rows"]


class NamedRow(NamedTuple):
    """A parameter or principle row: id, published name, alternative names, and the file line."""

    id: int
    name: str
    also_published_as: tuple[str, ...]
    line: int
    extra: tuple[str, ...] = ()


def cell_problem(improving: int, worsening: int, principles: tuple[int, ...]) -> str | None:
    """What is wrong with a matrix cell, or ``None``: the one rule set for files and models."""
    for label, value in (("improving", improving), ("worsening", worsening)):
        if not 1 <= value <= 39:
            return f"{label} parameter {value} is outside 1..39"
    if improving == worsening:
        return f"the diagonal ({improving}x{worsening}) is a physical contradiction and has no matrix cell"
    if not 1 <= len(principles) <= 4:
        return f"a cell lists 1 to 4 principles, found {len(principles)}"
    bad = [p for p in principles if not 1 <= p <= 40]
    if bad:
        return f"principle {bad[0]} is outside 1..40"
    if len(set(principles)) != len(principles):
        return f"principle repeated in {list(principles)}"
    return None


def csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) for each data row, checking the header and the column count."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except FileNotFoundError:
        raise DataFileError(path, None, "file not found") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None or tuple(header) != columns:
                raise DataFileError(path, 1, f"header must be {','.join(columns)}, found {header}")
            for row in reader:
                if not row or all(not field.strip() for field in row):
                    continue
                if len(row) != len(columns):
                    raise DataFileError(
                        path, reader.line_num, f"expected {len(columns)} fields, found {len(row)}"
                    )
                yield reader.line_num, dict(zip(columns, (field.strip() for field in row), strict=True))
        except UnicodeDecodeError as err:
            raise DataFileError(path, None, f"not UTF-8 text ({err.reason})") from None
        except csv.Error as err:
            raise DataFileError(path, reader.line_num, str(err)) from None


def whole_number(text: str, path: Path, line: int, field: str) -> int:
    """``int(text)``, or a :class:`DataFileError` naming the file, line and field."""
    try:
        return int(text)
    except ValueError:
        raise DataFileError(path, line, f"{field} must be a whole number, found {text!r}") from None


def read_cells(folder: Path) -> dict[tuple[int, int], tuple[int, ...]]:
    """Every non-empty cell of ``canonical.csv``: (improving, worsening) -> principle ids in order."""
    path = folder / "canonical.csv"
    cells: dict[tuple[int, int], tuple[int, ...]] = {}
    lines: dict[tuple[int, int], int] = {}
    for line, row in csv_rows(path, ("improving", "worsening", "principles")):
        key = (whole_number(row["improving"], path, line, "improving"),
               whole_number(row["worsening"], path, line, "worsening"))
        principles = tuple(whole_number(p, path, line, "principles") for p in row["principles"].split())
        problem = cell_problem(*key, principles)
        if problem:
            raise DataFileError(path, line, problem)
        if key in cells:
            raise DataFileError(path, line, f"cell {key[0]}x{key[1]} repeated (first on line {lines[key]})")
        cells[key], lines[key] = principles, line
    if not cells:
        raise DataFileError(path, None, "no cells")
    return cells


def read_named_rows(path: Path, ids: range, extra_columns: tuple[str, ...] = ()) -> dict[int, NamedRow]:
    """Rows of ``parameters.csv`` or ``principles.csv``; every id in ``ids`` exactly once."""
    rows: dict[int, NamedRow] = {}
    for line, row in csv_rows(path, ("id", "name", "also_published_as", *extra_columns)):
        ident = whole_number(row["id"], path, line, "id")
        if ident not in ids:
            raise DataFileError(path, line, f"id {ident} is outside {ids.start}..{ids.stop - 1}")
        if ident in rows:
            raise DataFileError(path, line, f"id {ident} appears twice (first on line {rows[ident].line})")
        if not row["name"]:
            raise DataFileError(path, line, "name is empty")
        alternatives = tuple(n.strip() for n in row["also_published_as"].split(";") if n.strip())
        rows[ident] = NamedRow(ident, row["name"], alternatives, line, tuple(row[c] for c in extra_columns))
    missing = [i for i in ids if i not in rows]
    if missing:
        raise DataFileError(path, None, f"ids missing: {missing}")
    return rows
