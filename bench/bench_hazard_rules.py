"""The hazard rules alone (``matrix/hazards.toml`` with ``matrix/settled.toml``), no embedding model.

For each split of the house library's hazard data: the share of dangerous phrasings whose category the
rules raise, how many of those dangers the settled reading sets aside as dealt with (it must be none on
tune), and the share of look-alikes that raise anything. Run it after every rule edit; ``--list`` prints
the look-alikes flagged and the dangers set aside, ``--misses`` the dangers the rules miss (tune only:
the held-out split is read once, after its run).

    .venv/bin/python bench/bench_hazard_rules.py [--list] [--misses]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import triz  # noqa: E402
from triz.house import load_house  # noqa: E402


@dataclass
class Split:
    """What the rules alone do on one split."""

    split: str
    phrasings: int
    lookalikes: int
    missed: list[Any]
    set_aside: list[Any]
    flagged: list[tuple[Any, list[str]]]

    @property
    def recall(self) -> float:
        return round(1 - len(self.missed) / max(1, self.phrasings), 4)

    @property
    def false_alarms(self) -> float:
        return round(len(self.flagged) / max(1, self.lookalikes), 4)


def measure(knowledge: triz.TrizKnowledge, split: str) -> Split:
    """Rules-alone recall, dangers set aside and look-alikes flagged on one split."""
    library = load_house(knowledge=knowledge)
    rules = knowledge.hazards
    phrasings = [p for p in library.phrasings if p.split == split]
    looks = [x for x in library.lookalikes if x.split == split]
    missed, aside = [], []
    for phrasing in phrasings:
        if phrasing.category in {m.category for m in rules.check(phrasing.text)}:
            continue
        missed.append(phrasing)
        if phrasing.category in {m.category for m in rules.set_aside(phrasing.text)}:
            aside.append(phrasing)
    flagged = [(x, sorted({m.category for m in rules.check(x.text)})) for x in looks]
    flagged = [(x, raised) for x, raised in flagged if raised]
    return Split(split, len(phrasings), len(looks), missed, aside, flagged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print flagged look-alikes and dangers set aside")
    parser.add_argument("--misses", action="store_true", help="print the tune dangers the rules miss")
    args = parser.parse_args()
    knowledge = triz.load()
    rows = [measure(knowledge, split) for split in ("tune", "held_out")]
    print("| rules alone | phrasings | recall | dangers set aside | look-alikes | flagged |\n|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.split} | {row.phrasings} | {row.recall} | {len(row.set_aside)} | {row.lookalikes} | "
              f"{row.false_alarms} ({len(row.flagged)}) |")
    for row in rows:
        if args.list:
            for phrasing in row.set_aside:
                print(f"  {row.split} set aside  {phrasing.category}: {phrasing.text}")
            for item, raised in row.flagged:
                print(f"  {row.split} flagged  {', '.join(raised)}: {item.text}")
        if args.misses and row.split == "tune":
            for phrasing in row.missed:
                print(f"  tune missed  {phrasing.category}: {phrasing.text}")


if __name__ == "__main__":
    main()
