"""Read and validate the files under ``matrix/``; every failure names the file, the line and the problem.

>>> from triz.resources import find_data_dir
>>> load_principles(find_data_dir("matrix"))[10].name
'Preliminary action'
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from triz.errors import DataFileError, describe_validation_error
from triz.models import Constraint, HazardRule, Parameter, Principle, Separation
from triz.tables import read_named_rows, whole_number

__all__ = [
    "load_constraints",
    "load_hazards",
    "load_parameters",
    "load_principles",
    "load_separations",
    "load_topics",
    "read_toml_records",
]

Model = TypeVar("Model", bound=BaseModel)


def _validate(model: type[Model], data: dict[str, Any], path: Path, line: int | None) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise DataFileError(path, line, describe_validation_error(err)) from None


def _check_ids(found: list[tuple[int, int]], expected: range, path: Path, what: str) -> None:
    seen: dict[int, int] = {}
    for line, ident in found:
        if ident in seen:
            raise DataFileError(path, line, f"{what} {ident} appears twice (first on line {seen[ident]})")
        seen[ident] = line
    missing = [i for i in expected if i not in seen]
    if missing:
        raise DataFileError(path, None, f"{what} ids missing: {missing}")


_TOML_LINE = re.compile(r"at line (\d+)")


def read_toml_records(path: Path, *tables: str) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Return, for each ``[[table]]`` name, its records with the line of their header (0 if unknown).

    Every top-level key must be one of ``tables``; a table may be absent (an empty list).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(path, None, "file not found") from None
    except UnicodeDecodeError as err:
        raise DataFileError(path, None, f"not UTF-8 text ({err.reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        match = _TOML_LINE.search(str(err))
        problem = _TOML_LINE.sub("", str(err)).replace("()", "").strip(" ,")
        raise DataFileError(path, int(match.group(1)) if match else None, f"TOML syntax: {problem}") from None
    unknown = sorted(set(data) - set(tables))
    if unknown:
        expected = ", ".join(f"[[{t}]]" for t in tables)
        raise DataFileError(path, None, f"unexpected top-level keys {unknown}; expected only {expected}")
    lines = text.splitlines()
    result: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for table in tables:
        records = data.get(table, [])
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise DataFileError(path, None, f"{table} must be written as [[{table}]] tables")
        header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
        found = [n for n, line in enumerate(lines, start=1) if header.match(line)]
        if len(found) != len(records):  # inline arrays of tables: fall back to no line numbers
            found = [0] * len(records)
        result[table] = list(zip(found, records, strict=True))
    return result


def _toml_tables(path: Path, table: str) -> list[tuple[int, dict[str, Any]]]:
    """Return (header line, record) for each ``[[table]]`` in a TOML file that holds only that table."""
    records = read_toml_records(path, table)[table]
    if not records:
        raise DataFileError(path, None, f"no [[{table}]] records")
    return records


def load_parameters(folder: Path) -> dict[int, Parameter]:
    """The 39 parameters: names from ``parameters.csv``, description and lexicon from ``parameters.toml``."""
    toml_path = folder / "parameters.toml"
    base = read_named_rows(folder / "parameters.csv", range(1, 40))
    extra = _toml_tables(toml_path, "parameter")
    _check_ids([(line, rec.get("id", -1)) for line, rec in extra], range(1, 40), toml_path, "parameter")
    merged: dict[int, Parameter] = {}
    for line, record in extra:
        unexpected = set(record) - {"id", "description", "lexicon"}
        if unexpected:
            raise DataFileError(toml_path, line, f"unexpected keys {sorted(unexpected)}")
        row = base[record["id"]]
        data = {"id": row.id, "name": row.name, "also_published_as": row.also_published_as, **record}
        merged[record["id"]] = _validate(Parameter, data, toml_path, line)
    return dict(sorted(merged.items()))


def load_principles(folder: Path) -> dict[int, Principle]:
    """The 40 principles: names from ``principles.csv``, details from ``principles.toml``."""
    csv_path, toml_path = folder / "principles.csv", folder / "principles.toml"
    base = read_named_rows(csv_path, range(1, 41), ("sub_principles_count_triz40",))
    extra = _toml_tables(toml_path, "principle")
    _check_ids([(line, rec.get("id", -1)) for line, rec in extra], range(1, 41), toml_path, "principle")
    merged: dict[int, Principle] = {}
    for line, record in extra:
        unexpected = set(record) - {"id", "summary", "sub_principles", "home_examples"}
        if unexpected:
            raise DataFileError(toml_path, line, f"unexpected keys {sorted(unexpected)}")
        row = base[record["id"]]
        count = whole_number(row.extra[0], csv_path, row.line, "sub_principles_count_triz40")
        data = {"id": row.id, "name": row.name, "also_published_as": row.also_published_as,
                "sub_principles_count": count, **record}
        principle = _validate(Principle, data, toml_path, line)
        if len(principle.sub_principles) != principle.sub_principles_count:
            raise DataFileError(
                toml_path, line,
                f"principle {principle.id} has {len(principle.sub_principles)} sub-principles, "
                f"principles.csv says {principle.sub_principles_count}",
            )
        if len(principle.home_examples) < 3:
            raise DataFileError(toml_path, line, f"principle {principle.id} needs at least 3 home examples")
        merged[principle.id] = principle
    return dict(sorted(merged.items()))


def _load_records(path: Path, table: str, model: type[Model]) -> list[Model]:
    return [_validate(model, record, path, line) for line, record in _toml_tables(path, table)]


def load_constraints(folder: Path) -> list[Constraint]:
    """Budget, labour, time, skill, renting...: the parameters each constraint worsens."""
    return _load_records(folder / "constraints.toml", "constraint", Constraint)


def load_separations(folder: Path) -> list[Separation]:
    """The four separation principles (time, space, condition, system level)."""
    path = folder / "separation.toml"
    records = _toml_tables(path, "separation")
    result = [_validate(Separation, record, path, line) for line, record in records]
    names = [s.name for s in result]
    if sorted(names) != sorted(["time", "space", "condition", "system level"]):
        raise DataFileError(path, None, f"expected the four separations once each, found {names}")
    return result


def load_topics(folder: Path) -> dict[str, tuple[str, ...]]:
    """House topics: name -> words (``topics.toml``)."""
    path = folder / "topics.toml"
    topics: dict[str, tuple[str, ...]] = {}
    for line, record in _toml_tables(path, "topic"):
        name, words = record.get("name"), record.get("words")
        if not isinstance(name, str) or not name:
            raise DataFileError(path, line, "name: a topic needs a name")
        if not isinstance(words, list) or not words or not all(isinstance(w, str) and w for w in words):
            raise DataFileError(path, line, "words: a list of words is required")
        if name in topics:
            raise DataFileError(path, line, f"topic {name!r} appears twice")
        topics[name] = tuple(words)
    return topics


def load_hazards(folder: Path) -> list[HazardRule]:
    """Hazard rules; categories must be unique."""
    path = folder / "hazards.toml"
    seen: set[str] = set()
    result = []
    for line, record in _toml_tables(path, "hazard"):
        rule = _validate(HazardRule, record, path, line)
        if rule.category in seen:
            raise DataFileError(path, line, f"hazard category {rule.category!r} appears twice")
        seen.add(rule.category)
        result.append(rule)
    return result
