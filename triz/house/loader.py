"""Read and check the files under ``house/``; every failure names the file, the line and the problem.

Layout (``house/README.md`` documents every field)::

    house/areas.toml                 [[area]]: the parts of the house, one file of families each
    house/families/<area>.toml       [[family]] and [[card]] records of that area
    house/cases/<area>.jsonl         labelled homeowner problems, one JSON object a line
    house/hazards/phrasings.jsonl    dangerous situations in plain words, by hazard category
    house/hazards/lookalikes.jsonl   ordinary problems that must not raise an alarm

Checks that need the TRIZ core (matrix cells, hazard categories) are made here too, so that a library
that loads is one whose every id resolves and whose every card is traced to a matrix cell.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from triz.errors import DataFileError, describe_validation_error
from triz.house.models import Area, Card, Case, Family, HazardPhrasing, Lookalike
from triz.knowledge import TrizKnowledge
from triz.loader import read_toml_records

__all__ = ["Where", "content_digest", "read_library"]

Model = TypeVar("Model", bound=BaseModel)
# What house fixes usually cost: the worsening parameters suggested first when a card's cell is wrong.
_USUAL_WORSENING = (32, 36, 33, 25, 35, 34, 39, 22, 23, 26, 19, 20, 27, 37, 31, 30, 13, 14, 12, 2, 8)
Where = tuple[Path, int]  # file and line of a record


def _validate(model: type[Model], data: Any, path: Path, line: int) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise DataFileError(path, line or None, describe_validation_error(err)) from None


def _jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataFileError(path, None, f"not UTF-8 text ({err.reason})") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as err:
            raise DataFileError(path, number, f"not a JSON object ({err.msg})") from None


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file())


def content_digest(folder: Path) -> str:
    """A hash of every data file of the library: what cached forms (vectors, parsed data) are keyed by."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".toml", ".jsonl"):
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class _Reader:
    """Collects the records of every file, remembering where each came from."""

    def __init__(self, folder: Path, knowledge: TrizKnowledge, *, collect: bool = False) -> None:
        self.folder = folder
        self.knowledge = knowledge
        self.errors: list[DataFileError] | None = [] if collect else None
        self.lines: dict[str, list[int]] = {}  # file stem -> line of each kept JSONL record
        self.where: dict[tuple[str, str], Where] = {}
        self.areas: dict[str, Area] = {}
        self.families: dict[str, Family] = {}
        self.cards: dict[str, Card] = {}
        self.cases: list[Case] = []
        self.phrasings: list[HazardPhrasing] = []
        self.lookalikes: list[Lookalike] = []

    def _fail(self, path: Path, line: int | None, problem: str) -> None:
        """Raise the error, or in collecting mode note it and go on."""
        error = DataFileError(path, line or None, problem)
        if self.errors is None:
            raise error
        self.errors.append(error)

    def _record(self, model: type[Model], data: Any, path: Path, line: int) -> Model | None:
        try:
            return _validate(model, data, path, line)
        except DataFileError as err:
            if self.errors is None:
                raise
            self.errors.append(err)
            return None

    def _remember(self, kind: str, ident: str, path: Path, line: int) -> bool:
        if (kind, ident) in self.where:
            first, first_line = self.where[(kind, ident)]
            self._fail(path, line, f"{kind} id {ident!r} is already used ({first.name}, line {first_line})")
            return False
        self.where[(kind, ident)] = (path, line)
        return True

    def read(self) -> None:
        path = self.folder / "areas.toml"
        for line, record in read_toml_records(path, "area")["area"]:
            area = _validate(Area, record, path, line)
            self._remember("area", area.id, path, line)
            self.areas[area.id] = area
        if not self.areas:
            raise DataFileError(path, None, "no [[area]] records")
        for path in _files(self.folder / "families", "*.toml"):
            self._guarded(self._read_area, path)
        for path in _files(self.folder / "cases", "*.jsonl"):
            self._guarded(self._read_cases, path)
        hazards = self.folder / "hazards"
        if (hazards / "phrasings.jsonl").is_file():
            self.phrasings = self._guarded(self._read_jsonl, hazards / "phrasings.jsonl", HazardPhrasing) or []
        if (hazards / "lookalikes.jsonl").is_file():
            self.lookalikes = self._guarded(self._read_jsonl, hazards / "lookalikes.jsonl", Lookalike) or []

    def _guarded(self, read: Any, *args: Any) -> Any:
        """Run a file reader; in collecting mode a broken file is noted and skipped."""
        try:
            return read(*args)
        except DataFileError as err:
            if self.errors is None:
                raise
            self.errors.append(err)
            return None

    def _read_jsonl(self, path: Path, model: type[Model]) -> list[Model]:
        found = [(line, self._record(model, record, path, line)) for line, record in _jsonl(path)]
        kept = [(line, item) for line, item in found if item is not None]
        self.lines[path.stem] = [line for line, _ in kept]
        return [item for _, item in kept]

    def _read_cases(self, path: Path) -> None:
        for line, record in _jsonl(path):
            case = self._record(Case, record, path, line)
            if case is not None and self._remember("case", case.id, path, line):
                self.cases.append(case)

    def _read_area(self, path: Path) -> None:
        area = path.stem
        if area not in self.areas:
            raise DataFileError(path, None, f"no area {area!r} in areas.toml (the file name names its area)")
        records = read_toml_records(path, "family", "card")
        for line, record in records["family"]:
            if "area" in record:
                self._fail(path, line, "area: leave it out; the file name gives the area")
                continue
            family = self._record(Family, {**record, "area": area}, path, line)
            if family is not None and self._remember("family", family.id, path, line):
                self.families[family.id] = family
        for line, record in records["card"]:
            card = self._record(Card, record, path, line)
            if card is not None and self._remember("card", card.id, path, line):
                self.cards[card.id] = card

    # ------------------------------------------------------------------------------------------ references
    def check(self) -> None:
        rules = self.knowledge.hazards.rules
        for family in self.families.values():
            path, line = self.where[("family", family.id)]
            for c in family.contradictions:
                self._cell(c.improving, c.worsening, path, line, f"family {family.id}: contradiction")
            for category in family.hazards:
                self._category(category, path, line, f"family {family.id}: hazards")
        for card in self.cards.values():
            path, line = self.where[("card", card.id)]
            self._check_card(card, rules, path, line)
        for case in self.cases:
            path, line = self.where[("case", case.id)]
            if case.family not in self.families:
                self._fail(path, line, f"case {case.id}: no family {case.family!r}")
            for ident in case.cards:
                if ident not in self.cards:
                    self._fail(path, line, f"case {case.id}: no card {ident!r}")
            for i, w in case.pairs:
                self._cell(i, w, path, line, f"case {case.id}: pair")
        for kind, records in (("phrasings", self.phrasings), ("lookalikes", self.lookalikes)):
            path = self.folder / "hazards" / f"{kind}.jsonl"
            seen: dict[str, int] = {}
            for number, record in zip(self.lines.get(kind, ()), records, strict=False):
                category = record.category if isinstance(record, HazardPhrasing) else record.near
                if category is not None and category not in rules:
                    self._fail(path, number, f"no hazard category {category!r} in matrix/hazards.toml")
                key = " ".join(record.text.lower().split())
                if key in seen:
                    self._fail(path, number, f"the same text is on entry {seen[key]} too")
                seen[key] = number

    def _check_card(self, card: Card, rules: dict[str, Any], path: Path, line: int) -> None:
        name = f"card {card.id}"
        causes: set[str] = set()
        for ident in card.families:
            if ident not in self.families:
                self._fail(path, line, f"{name}: no family {ident!r}")
                continue
            causes |= {c.id for c in self.families[ident].causes}
        for cause in card.causes:
            if cause not in causes:
                self._fail(path, line, f"{name}: cause {cause!r} is not a cause of its families")
        for category in card.hazards:
            if not self._category(category, path, line, f"{name}: hazards"):
                continue
            if rules[category].severity == "stop" and card.diy != "pro":
                self._fail(path, line, f"{name}: it touches the stop hazard {category!r}, so diy must be \"pro\"")
        mine = set(card.principle_ids)
        for i, w in card.resolves:
            cell = self._cell(i, w, path, line, f"{name}: resolves")
            if cell and not mine & set(cell):
                self._fail(
                    path, line,
                    f"{name}: none of its principles {sorted(mine)} is in the matrix cell {i}x{w} {list(cell)}; "
                    f"cells of improving {i} that suggest them: {self._cells_with(i, mine)}",
                )
        for followup in card.creates:
            self._cell(followup.improving, followup.worsening, path, line, f"{name}: creates")
            for ident in followup.cards:
                if ident not in self.cards:
                    self._fail(path, line, f"{name}: creates names no card {ident!r}")
                if ident == card.id:
                    self._fail(path, line, f"{name}: a follow-up cannot be answered by the same card")

    def _cells_with(self, improving: int, principles: set[int]) -> str:
        """The cells of ``improving`` that hold one of ``principles``, the trade-offs houses have most first."""
        found = [c.worsening for c in self.knowledge.matrix.cells()
                 if c.improving == improving and principles & set(c.principles)]
        found.sort(key=lambda w: (_USUAL_WORSENING.index(w) if w in _USUAL_WORSENING else 99, w))
        return ", ".join(f"{improving}x{w}" for w in found[:12]) or "none"

    def _cell(self, improving: int, worsening: int, path: Path, line: int, what: str) -> tuple[int, ...]:
        found = self.knowledge.matrix.lookup(improving, worsening)
        if not found.principles:
            self._fail(path, line, f"{what} {improving}x{worsening}: {found.reason}")
        return found.principles

    def _category(self, category: str, path: Path, line: int, what: str) -> bool:
        if category not in self.knowledge.hazards.rules:
            self._fail(path, line, f"{what}: no hazard category {category!r} in matrix/hazards.toml")
            return False
        return True


def read_library(folder: Path, knowledge: TrizKnowledge, *, collect: bool = False) -> _Reader:
    """Read every file of the library under ``folder`` and check every reference.

    Raises :class:`DataFileError` at the first problem; with ``collect=True`` gathers every problem in
    ``reader.errors`` instead (``drain kb check``), skipping the records that failed.
    """
    reader = _Reader(folder, knowledge, collect=collect)
    reader.read()
    reader.check()
    return reader
