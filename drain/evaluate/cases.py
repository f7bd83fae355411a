"""Evaluation cases: JSONL lines {"id", "problem", "pairs", "principles_used", "hazards"} (all but id and
problem optional; other fields such as "split" and "category" are kept).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drain.errors import InputError, describe_validation_error

__all__ = ["EvalCase", "default_benchmark", "protected_problems", "read_cases"]


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    problem: str = Field(min_length=1)
    pairs: list[tuple[int, int]] = Field(default_factory=list)
    principles_used: list[int] = Field(default_factory=list)
    hazards: list[str] = Field(default_factory=list)
    split: str | None = None
    category: str | None = None


def read_cases(path: Path, *, split: str | None = None, limit: int | None = None) -> list[EvalCase]:
    """The cases of ``path`` (optionally one split); a malformed line is an error naming the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    cases: list[EvalCase] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            case = EvalCase.model_validate(json.loads(line))
        except json.JSONDecodeError as err:
            raise InputError(f"{path}, line {number}: not JSON ({err.msg})") from None
        except ValidationError as err:
            raise InputError(f"{path}, line {number}: {describe_validation_error(err, default='line')}") from None
        if case.id in seen:
            raise InputError(f"{path}, line {number}: id {case.id!r} repeats line {seen[case.id]}")
        seen[case.id] = number
        if split is None or case.split == split:
            cases.append(case)
    if not cases:
        raise InputError(f"{path} has no cases" + (f" in split {split!r}" if split else ""))
    return cases[:limit] if limit else cases


def default_benchmark() -> Path | None:
    """The homeowner benchmark of a checkout (``bench/homeowner/cases.jsonl``); None in an installed wheel."""
    path = Path(__file__).resolve().parents[2] / "bench" / "homeowner" / "cases.jsonl"
    return path if path.is_file() else None


def protected_problems(path: Path | None = None) -> list[str]:
    """The benchmark's dev and test problems: no training or library text may equal or nearly equal them."""
    path = path or default_benchmark()
    if path is None:
        return []
    return [case.problem for case in read_cases(path) if case.split in ("dev", "test")]
