"""Chat-format training data for the planner's model steps, rendered by the step modules themselves.

The model is trained on exactly what it sees at inference: every example is a step's own request (its
template, its candidates from the house library, its reply schema) and the gold reply.

Sources:
- ``library``: the house library's labelled cases. Contradict: the case's pairs among the pairs the
  library offers for its text; resolve: the case's cards among the cards offered for its first pair (the
  case is left out of the nearest-case votes, so it does not vote for itself).
- ``benchmark-train`` / ``extra``: the gold annotations in ``training/`` (frame, decompose, contradict,
  deepen), and ``variant``: neutral re-phrasings of them (frame, contradict).
- ``store``: accepted and up-voted replies from the run store (``drain export``), with ``--export``.

``--weight NAME=N`` repeats the training examples of a step (``contradict``) or a source
(``benchmark-train``) N times, so a weak step gets more of the training; the data card records it.

A gold answer the library did not offer is added to the offer (the last candidate makes way) and counted
in the data card. The benchmark's dev and test problems never enter: the build fails if one does.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drain.errors import InputError
from drain.grounding.cards import CardCandidate
from drain.grounding.pairs import PairCandidate
from drain.prompts import PromptLibrary
from drain.schema import Constraints
from drain.steps import contradict, decompose, deepen, frame, resolve
from drain.steps.base import Request
from drain.steps.tree import contradiction
from drain.training.gold import GoldRecord, read_gold
from triz.house.checks import find_leaks
from triz.knowledge import TrizKnowledge

__all__ = ["BuildResult", "build_dataset", "leak_check", "parse_weights", "reply_json", "weighted"]

NEAR_DUPLICATE = 0.8  # content-word Jaccard at or above which two problems count as the same
MOST_PAIRS = 2
MOST_CARDS = 3


def reply_json(data: dict[str, Any]) -> str:
    """JSON exactly as the embedded backend's grammar makes the model write it: ", " and ": " separators."""
    return json.dumps(data, separators=(", ", ": "), ensure_ascii=False)


def _example(request: Request, reply: dict[str, Any], source: str, record_id: str) -> dict[str, Any]:
    request.reply_model.model_validate(reply)  # a gold reply must pass the step's own reply model
    messages = [*request.messages, {"role": "assistant", "content": reply_json(reply)}]
    return {"messages": messages, "step": request.step, "source": source, "id": record_id}


def leak_check(training: Sequence[str], held_out: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs (training problem, held-out problem) that are the same or nearly the same."""
    found = find_leaks(dict(enumerate(training)), held_out, NEAR_DUPLICATE)  # type: ignore[arg-type]
    return [(training[index], original) for index, original, _ in found]  # type: ignore[index]


STEPS = ("frame", "decompose", "contradict", "resolve", "deepen")
SOURCES = ("library", "benchmark-train", "extra", "variant", "store")


def parse_weights(items: Sequence[str]) -> dict[str, int]:
    """``["contradict=2"]`` -> ``{"contradict": 2}``; a name that is no step or source, or a count that is not
    a whole number from 1 to 10, is one error naming it.

    >>> parse_weights(["contradict=2", "benchmark-train=3"])
    {'contradict': 2, 'benchmark-train': 3}
    """
    weights: dict[str, int] = {}
    for item in items:
        name, _, count = item.partition("=")
        if name not in STEPS + SOURCES:
            raise InputError(f"--weight {item}: {name!r} is no step ({', '.join(STEPS)}) or source "
                             f"({', '.join(SOURCES)})")
        if not count.isdigit() or not 1 <= int(count) <= 10:
            raise InputError(f"--weight {item}: the count must be a whole number from 1 to 10")
        weights[name] = int(count)
    return weights


def weighted(rows: list[dict[str, Any]], weights: dict[str, int]) -> list[dict[str, Any]]:
    """Each row repeated by the weights of its step and its source (multiplied; 1 when not named)."""
    return [row for row in rows for _ in range(weights.get(row["step"], 1) * weights.get(row["source"], 1))]


def _with_gold(offered: list[Any], is_gold: Any, added: list[Any], rng: random.Random) -> list[Any]:
    """``offered`` with the gold answers it lacked (``added``): the lowest-ranked others make way, and each
    added answer takes a random place, so the model does not learn that an answer at the end is the gold."""
    drop: set[int] = set()
    for candidate in reversed(offered):
        if len(drop) >= len(added):
            break
        if not is_gold(candidate):
            drop.add(id(candidate))
    kept = [c for c in offered if id(c) not in drop]
    for item in added:
        kept.insert(rng.randrange(len(kept) + 1), item)
    return kept


@dataclass
class _Builder:
    knowledge: TrizKnowledge
    grounder: Any
    prompts: PromptLibrary = field(default_factory=PromptLibrary)
    inserted: Counter[str] = field(default_factory=Counter)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def _grounding(self, problem: str, exclude: str | None, query: Any = None) -> Any:
        grounder = self.grounder
        grounder.exclude_cases = frozenset([exclude] if exclude else [])  # a case must not vote for itself
        return grounder.ground(problem, query=query)

    def _offer_pairs(self, grounding: Any, gold: list[tuple[int, int]]) -> list[PairCandidate]:
        offered = self.grounder.pairs(grounding, k=6)
        missing = [pair for pair in gold if pair not in {(c.improving, c.worsening) for c in offered}]
        self.inserted["pairs"] += len(missing)
        added = [PairCandidate(i, w, 0.0, "the homeowner's contradiction", ("gold",)) for i, w in missing]
        return _with_gold(offered, lambda c: (c.improving, c.worsening) in gold, added, self.rng)

    def contradict_example(self, problem: str, gold: list[tuple[int, int]], source: str, ident: str,
                           grounding: Any = None) -> dict[str, Any] | None:
        gold = [pair for pair in gold if self.knowledge.matrix.principles_of(*pair)][:MOST_PAIRS]
        if not gold:
            return None
        offered = self._offer_pairs(grounding or self._grounding(problem, None), gold)
        request = contradict.build(self.prompts, self.knowledge, problem, offered, most=MOST_PAIRS)
        return _example(request, {"pairs": [f"{i}x{w}" for i, w in gold]}, source, ident)

    def resolve_example(self, problem: str, pair: tuple[int, int], cards: Sequence[str], ident: str,
                        grounding: Any) -> dict[str, Any] | None:
        library, grounder = self.grounder.library, self.grounder
        cell = self.knowledge.matrix.principles_of(*pair)
        wanted = [library.cards[c] for c in cards if set(library.cards[c].principle_ids) & set(cell)][:MOST_CARDS]
        if not wanted:
            return None
        offered = grounder.cards(grounding, pair[0], pair[1], Constraints(), k=6)
        wanted_ids = {card.id for card in wanted}
        missing = [card for card in wanted if card.id not in {o.card.id for o in offered}]
        self.inserted["cards"] += len(missing)
        added = []
        for card in missing:
            principle = next(p for p in card.principle_ids if p in cell)
            added.append(CardCandidate(card, card.families[0], principle, cell.index(principle) + 1, 0.0))
        offered = _with_gold(offered, lambda o: o.card.id in wanted_ids, added, self.rng)
        c = contradiction(self.knowledge, pair[0], pair[1], 0.9, "", "library")
        request = resolve.build(self.prompts, self.knowledge, problem, c, offered, MOST_CARDS)
        return _example(request, {"cards": [card.id for card in wanted]}, "library", ident)

    def gold_examples(self, record: GoldRecord, problem: str, source: str) -> Iterator[dict[str, Any]]:
        yield _example(frame.build(self.prompts, problem), record.frame.model_dump(), source, record.id)
        if source == "variant":
            example = self.contradict_example(problem, [(c.improving, c.worsening) for c in record.contradictions],
                                              source, record.id)
            if example is not None:
                yield example
            return
        yield _example(decompose.build(self.prompts, problem), {"parts": record.parts}, source, record.id)
        example = self.contradict_example(problem, [(c.improving, c.worsening) for c in record.contradictions],
                                          source, record.id)
        if example is not None:
            yield example
        first = record.contradictions[0]
        fix = record.ideas[f"{first.improving}x{first.worsening}"][0].idea
        request = deepen.build(self.prompts, self.knowledge, problem, fix)
        reply = record.deepen.model_dump()
        enum = request.schema["properties"]
        if reply["new_problem"] and (reply["improving"] not in enum["improving"]["enum"]
                                     or reply["worsening"] not in enum["worsening"]["enum"]):
            self.inserted["deepen"] += 1
            return
        yield _example(request, reply, source, record.id)

    def case_examples(self, case: Any, query: Any = None) -> Iterator[dict[str, Any]]:
        grounding = self._grounding(case.text, case.id, query)
        example = self.contradict_example(case.text, [tuple(p) for p in case.pairs], "library", case.id, grounding)
        if example is not None:
            yield example
        example = self.resolve_example(case.text, tuple(case.pairs[0]), case.cards, case.id, grounding)
        if example is not None:
            yield example


_SUFFIXES = (", what can I do?", " - any ideas?", ". Help!", ", need advice", " (what would you do?)")


def variations(problem: str, rng: random.Random) -> list[str]:
    """Neutral re-phrasings that keep the meaning (and so the gold answers): case, punctuation, filler."""
    options = {
        problem.lower(),
        problem[:1].upper() + problem[1:],
        problem.rstrip(".!? ") + rng.choice(_SUFFIXES),
        "hi, " + problem[:1].lower() + problem[1:],
    }
    options.discard(problem)
    return sorted(options)


@dataclass
class BuildResult:
    train: int
    valid: int
    card: dict[str, Any]


def _held_out(benchmark: Path | None) -> list[str]:
    if benchmark is None:
        return []
    from drain.evaluate.cases import protected_problems

    return protected_problems(benchmark)


def build_dataset(out: Path, *, gold_files: Sequence[Path], knowledge: TrizKnowledge, benchmark: Path | None,
                  exports: Sequence[Path] = (), variants: int = 2, library_cases: bool = True,
                  max_cases: int | None = None, valid_share: float = 0.08, seed: int = 0,
                  grounder: Any = None, weights: dict[str, int] | None = None) -> BuildResult:
    """Write ``train.jsonl``, ``valid.jsonl`` and a data card under ``out``.

    ``max_cases``: use only that many of the library's cases (an even sample by id), for a quick build.
    """
    from drain.grounding.grounder import Grounder

    rng = random.Random(seed)
    builder = _Builder(knowledge, grounder or Grounder(knowledge), rng=random.Random(seed))
    records: list[GoldRecord] = [record for path in gold_files for record in read_gold(path)]
    cases = _sample(list(builder.grounder.library.cases), max_cases) if library_cases else []
    if not records and not cases:
        raise InputError("no gold records or library cases found: give --gold files or keep house/cases")
    held_out = _held_out(benchmark)
    leaks = leak_check([r.problem for r in records] + [c.text for c in cases], held_out)
    if leaks:
        raise InputError(f"{len(leaks)} training problems match dev/test problems, e.g. {leaks[0][0]!r}")
    valid_ids = _valid_ids(sorted({r.id for r in records} | {c.id for c in cases}), valid_share, rng)
    train: list[dict[str, Any]] = []
    valid: list[dict[str, Any]] = []
    for record in records:
        target = valid if record.id in valid_ids else train
        target.extend(builder.gold_examples(record, record.problem, record.source))
        if record.id not in valid_ids:
            for variant in variations(record.problem, rng)[:variants]:
                train.extend(builder.gold_examples(record, variant, "variant"))
    vectors = builder.grounder.index.embedder.embed([case.text for case in cases]) if cases else []
    for case, vector in zip(cases, vectors, strict=True):
        (valid if case.id in valid_ids else train).extend(builder.case_examples(case, vector))
    builder.grounder.exclude_cases = frozenset()
    from_store, store_leaks = _store_examples(exports, held_out)
    store_examples = len(from_store)
    train = weighted(_dedupe([*train, *from_store]), weights or {})
    rng.shuffle(train)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("valid.jsonl", valid)):
        (out / name).write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                                encoding="utf-8")
    card = {
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "train_examples": len(train), "valid_examples": len(valid),
        "by_step": dict(Counter(r["step"] for r in train)), "by_source": dict(Counter(r["source"] for r in train)),
        "gold_records": len(records), "library_cases": len(cases), "library_digest": builder.grounder.library.digest,
        "valid_record_ids": sorted(valid_ids), "gold_files": [str(p) for p in gold_files],
        "exports": [str(p) for p in exports], "store_examples": store_examples,
        "store_examples_left_out_as_benchmark_leaks": store_leaks,
        "answers_added_to_offered_lists": dict(builder.inserted),
        "held_out_problems_checked": len(held_out), "leaks": 0,
        "sha256": {name: hashlib.sha256((out / name).read_bytes()).hexdigest()
                   for name in ("train.jsonl", "valid.jsonl")},
        "settings": {"variants": variants, "library_cases": library_cases, "max_cases": max_cases,
                     "valid_share": valid_share, "seed": seed, "weights": dict(weights or {})},
    }
    (out / "data_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (out / "data_card.md").write_text(_card_markdown(card), encoding="utf-8")
    return BuildResult(len(train), len(valid), card)


def _sample(cases: list[Any], most: int | None) -> list[Any]:
    """At most ``most`` of ``cases``: an even sample by id (all of them when ``most`` is None)."""
    if most is None or len(cases) <= most:
        return cases
    return sorted(cases, key=lambda c: c.id)[:: max(1, len(cases) // most)][:most]


def _valid_ids(ids: list[str], share: float, rng: random.Random) -> set[str]:
    """The ids held out for validation: ``share`` of ``ids`` (at least one), drawn with ``rng``."""
    rng.shuffle(ids)
    return set(ids[: max(1, int(len(ids) * share))])


def _store_examples(exports: Sequence[Path], held_out: Sequence[str]) -> tuple[list[dict[str, Any]], int]:
    """The chat examples of ``drain export`` files, and how many were left out as benchmark leaks (a dev or
    test problem solved through DRAIN never trains it)."""
    examples: list[dict[str, Any]] = []
    leaks = 0
    for path in exports:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            meta = row.get("metadata") or {}
            if meta.get("problem") and leak_check([meta["problem"]], held_out):
                leaks += 1
                continue
            examples.append({"messages": row["messages"], "step": meta.get("step") or row.get("step", "store"),
                             "source": "store", "id": str(meta.get("run_id") or row.get("id", ""))})
    return examples, leaks


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    unique = []
    for row in rows:
        key = json.dumps(row["messages"], sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def _card_markdown(card: dict[str, Any]) -> str:
    lines = ["# DRAIN training data card", "",
             f"Built {card['built_at']} from {card['gold_records']} gold records "
             f"({', '.join(card['gold_files'])}) and {card['library_cases']} house-library cases "
             f"(library {card['library_digest']}).", "",
             f"- train examples: {card['train_examples']}; valid examples: {card['valid_examples']}",
             f"- dev/test problems checked for leaks: {card['held_out_problems_checked']}; leaks: {card['leaks']}",
             f"- gold answers added to the offered lists: {card['answers_added_to_offered_lists']}",
             f"- train.jsonl sha256: `{card['sha256']['train.jsonl']}`", "", "| step | examples |", "|---|---|"]
    lines += [f"| {step} | {count} |" for step, count in sorted(card["by_step"].items())]
    lines += ["", "| source | examples |", "|---|---|"]
    lines += [f"| {source} | {count} |" for source, count in sorted(card["by_source"].items())]
    return "\n".join(lines) + "\n"
