"""Gold annotations: what a good answer to every planner step looks like for one homeowner problem.

``training/*.jsonl`` holds one :class:`GoldRecord` per line. ``drain dataset build`` renders each record
through the planner's own prompt templates into chat examples. Check a file with::

    python -m drain.training.gold training/gold_extra_a.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from drain.errors import DataFileError, describe_validation_error
from drain.steps.choices import DEEPEN_IMPROVING, DEEPEN_WORSENING
from drain.steps.frame import FrameReply

__all__ = ["DEEPEN_IMPROVING", "DEEPEN_WORSENING", "GoldDeepen", "GoldRecord", "read_gold"]


class _Gold(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContradictionChoice(_Gold):
    improving: int = Field(ge=1, le=39)
    worsening: int = Field(ge=1, le=39)
    reason: str = Field(min_length=3, max_length=100)


class PhysicalChoice(_Gold):
    parameter: int = Field(ge=1, le=39)
    high: str = Field(min_length=3, max_length=80)
    low: str = Field(min_length=3, max_length=80)


class IdeaReply(_Gold):
    """A hand-written idea for one principle (the gold of a model that writes its own ideas)."""

    principle: int = Field(ge=1, le=40)
    idea: str = Field(min_length=12, max_length=110)
    cost: Literal["$", "$$", "$$$"]
    diy: Literal["easy", "moderate", "pro"]


class GoldDeepen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_problem: str = Field(max_length=100)
    improving: int
    worsening: int


class GoldRecord(BaseModel):
    """One problem with a gold reply for each planner step."""

    model_config = ConfigDict(extra="forbid")

    id: str
    source: Literal["benchmark-train", "extra"]
    category: str
    problem: str = Field(min_length=3, max_length=400)
    hazards: list[str] = Field(default_factory=list)
    frame: FrameReply
    parts: list[str] = Field(max_length=3)
    contradictions: list[ContradictionChoice] = Field(min_length=1, max_length=2)
    physical: PhysicalChoice | None = None
    ideas: dict[str, list[IdeaReply]]
    deepen: GoldDeepen

    @model_validator(mode="after")
    def _consistent(self) -> GoldRecord:
        import triz

        matrix = triz.load().matrix
        for part in self.parts:
            if not 3 <= len(part) <= 80:
                raise ValueError(f"part {part!r} must be 3-80 characters")
        for choice in self.contradictions:
            key = f"{choice.improving}x{choice.worsening}"
            cell = matrix.principles_of(choice.improving, choice.worsening)
            if not cell:
                raise ValueError(f"contradiction {key} is an empty matrix cell")
            if key not in self.ideas:
                raise ValueError(f"ideas has no entry {key!r}")
            got = [idea.principle for idea in self.ideas[key]]
            if got != list(cell[:3]):
                raise ValueError(f"ideas[{key!r}] must cover principles {list(cell[:3])} in that order, got {got}")
        extra = set(self.ideas) - {f"{c.improving}x{c.worsening}" for c in self.contradictions}
        if extra:
            raise ValueError(f"ideas for cells that are not contradictions: {sorted(extra)}")
        deepen = self.deepen
        if deepen.new_problem:
            if deepen.improving not in DEEPEN_IMPROVING or deepen.worsening not in DEEPEN_WORSENING:
                raise ValueError(f"deepen ids must come from {DEEPEN_IMPROVING} and {DEEPEN_WORSENING}")
            if deepen.improving == deepen.worsening:
                raise ValueError("deepen improving and worsening must differ")
        return self


def read_gold(path: Path) -> list[GoldRecord]:
    """All records of a gold file; a bad line is a :class:`DataFileError` naming the line."""
    records: list[GoldRecord] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = GoldRecord.model_validate(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataFileError(path, number, f"not JSON: {err.msg}") from None
        except ValidationError as err:
            raise DataFileError(path, number, describe_validation_error(err, default="record")) from None
        if record.id in seen:
            raise DataFileError(path, number, f"id {record.id!r} repeats line {seen[record.id]}")
        seen[record.id] = number
        records.append(record)
    return records


if __name__ == "__main__":  # pragma: no cover - a checking tool for annotators
    for name in sys.argv[1:]:
        try:
            print(f"{name}: {len(read_gold(Path(name)))} records OK")
        except DataFileError as err:
            print(f"{err}")
            raise SystemExit(1) from None
