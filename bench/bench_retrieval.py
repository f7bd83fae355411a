"""Retrieval quality of grounded solving, without the language model: families, pairs and cards.

On the house library's *dev* cases (one case in five, by id; each case is left out of the nearest-case
votes so it cannot vote for itself) it measures how often the labelled family is ranked first / in the
top three, how often a labelled pair is among the first one / three candidate pairs, and how often a
labelled card is among the first three / six cards offered for the case's first pair. On the benchmark's
*dev* split it measures the candidate pairs (the model then chooses among them) against the reference pairs.

Ablations: family evidence (says, cases, cards) and pair sources (family, case, lexicon, gloss), each left
out in turn, so the table says which one earns its place.

    .venv/bin/python bench/bench_retrieval.py [--split dev] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import triz  # noqa: E402
from drain.evaluate.cases import read_cases  # noqa: E402
from drain.grounding import families as family_module  # noqa: E402
from drain.grounding.families import match_families  # noqa: E402
from drain.grounding.grounder import Grounder  # noqa: E402
from drain.grounding.pairs import SOURCES  # noqa: E402
from drain.schema import Constraints  # noqa: E402


def library_dev(grounder: Grounder, split: str) -> dict[str, float]:
    library, index = grounder.library, grounder.index
    cases = [c for c in library.cases if c.split == split]
    totals = dict.fromkeys(("family@1", "family@3", "pair@1", "pair@3", "card@3", "card@6"), 0.0)
    started = time.perf_counter()
    for case in cases:
        grounder.exclude_cases = frozenset([case.id])
        grounding = grounder.ground(case.text)
        ranked = [m.family.id for m in grounding.families]
        totals["family@1"] += ranked[:1] == [case.family]
        totals["family@3"] += case.family in ranked[:3]
        pairs = [(p.improving, p.worsening) for p in grounder.pairs(grounding, k=6)]
        wanted = {tuple(p) for p in case.pairs}
        totals["pair@1"] += bool(wanted & set(pairs[:1]))
        totals["pair@3"] += bool(wanted & set(pairs[:3]))
        cards = [o.card.id for o in grounder.cards(grounding, *case.pairs[0], Constraints(), k=6)]
        totals["card@3"] += bool(set(case.cards) & set(cards[:3]))
        totals["card@6"] += bool(set(case.cards) & set(cards[:6]))
    grounder.exclude_cases = frozenset()
    elapsed = time.perf_counter() - started
    result = {name: round(value / len(cases), 3) for name, value in totals.items()}
    result["cases"] = len(cases)
    result["ms_per_case"] = round(1000 * elapsed / max(1, len(cases)), 1)
    del index
    return result


def family_ablation(grounder: Grounder, split: str) -> dict[str, float]:
    """family@1 with each kind of family evidence alone and all together."""
    library, index = grounder.library, grounder.index
    cases = [c for c in library.cases if c.split == split]
    vectors = index.embedder.embed([c.text for c in cases])
    saved = dict(family_module.WEIGHTS)
    found = {}
    for name, weights in (("says only", {"says": 1.0, "cases": 0.0, "cards": 0.0}),
                          ("cases only", {"says": 0.0, "cases": 1.0, "cards": 0.0}),
                          ("cards only", {"says": 0.0, "cases": 0.0, "cards": 1.0}),
                          ("all (shipped weights)", saved)):
        family_module.WEIGHTS.update(weights)
        hits = sum(match_families(library, index, vector, k=1, exclude_cases={case.id})[0].family.id == case.family
                   for case, vector in zip(cases, vectors, strict=True))
        found[name] = round(hits / len(cases), 3)
    family_module.WEIGHTS.update(saved)
    return found


def benchmark_pairs(knowledge: triz.TrizKnowledge, split: str, sources: tuple[str, ...]) -> dict[str, float]:
    cases = read_cases(ROOT / "bench" / "homeowner" / "cases.jsonl", split=split)
    grounder = Grounder(knowledge, pair_sources=sources)
    hit1 = hit3 = 0
    for case in cases:
        pairs = [(p.improving, p.worsening) for p in grounder.pairs(grounder.ground(case.problem), k=6)]
        wanted = {tuple(p) for p in case.pairs}
        hit1 += bool(wanted & set(pairs[:1]))
        hit3 += bool(wanted & set(pairs[:3]))
    return {"pair@1": round(hit1 / len(cases), 3), "pair@3": round(hit3 / len(cases), 3), "cases": len(cases)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", help="library split (dev) and benchmark split (dev)")
    parser.add_argument("--json", type=Path, help="write the numbers here")
    args = parser.parse_args()
    knowledge = triz.load()
    grounder = Grounder(knowledge)
    library = grounder.library
    out: dict[str, object] = {"library": library.stats()["digest"], "families": len(library.families),
                              "cards": len(library.cards), "cases": len(library.cases)}
    out["library_dev"] = library_dev(grounder, args.split)
    out["family_evidence"] = family_ablation(grounder, args.split)
    pairs = {"all sources": benchmark_pairs(knowledge, args.split, SOURCES)}
    for left_out in SOURCES:
        kept = tuple(s for s in SOURCES if s != left_out)
        pairs[f"without {left_out}"] = benchmark_pairs(knowledge, args.split, kept)
    out["benchmark_pairs"] = pairs
    print(f"library {out['library']}: {out['families']} families, {out['cards']} cards, {out['cases']} cases")
    print(f"\nlibrary {args.split} cases ({out['library_dev']['cases']}), nearest-case votes leave each case out:")
    print("| metric | value |\n|---|---|")
    for name, value in out["library_dev"].items():
        if name != "cases":
            print(f"| {name} | {value} |")
    print("\nfamily@1 by family evidence:\n| evidence | family@1 |\n|---|---|")
    for name, value in out["family_evidence"].items():
        print(f"| {name} | {value} |")
    print(f"\nbenchmark {args.split}: candidate pairs (the library's ranking, before the model chooses):")
    print("| pair sources | pair@1 | pair@3 |\n|---|---|---|")
    for name, value in pairs.items():
        print(f"| {name} | {value['pair@1']} | {value['pair@3']} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
