"""Chat-format training data for every planner step, rendered with the planner's own prompt templates.

Sources: the gold annotations (``training/*.jsonl``: the benchmark's train split and extra problems),
systematic variations of the homeowners' phrasing, the TRIZ knowledge (lexicon -> contradiction
examples) and, optionally, ``drain export`` files of accepted replies from the store. The benchmark's dev
and test problems never enter: the build fails if one does (exactly or nearly).
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
from drain.planner.choices import offer_choices, offer_deepen_choices
from drain.planner.steps import Choice, ContradictStep, DecomposeStep, DeepenStep, FrameStep, ResolveStep, StepCall
from drain.prompts import PromptLibrary
from drain.textutil import content_words
from drain.training.gold import GoldRecord, read_gold
from triz.knowledge import TrizKnowledge

__all__ = ["BuildResult", "build_dataset", "leak_check", "reply_json"]

NEAR_DUPLICATE = 0.8  # content-word Jaccard at or above which two problems count as the same


def reply_json(data: dict[str, Any]) -> str:
    """JSON exactly as the embedded backend's grammar makes the model write it: ", " and ": " separators."""
    return json.dumps(data, separators=(", ", ": "), ensure_ascii=False)


def _example(call: StepCall, reply: dict[str, Any], source: str, record_id: str) -> dict[str, Any]:
    call.reply_model.model_validate(reply)  # a gold reply must pass the step's own schema
    messages = [*call.messages, {"role": "assistant", "content": reply_json(reply)}]
    return {"messages": messages, "step": call.step, "source": source, "id": record_id}


def _ensure(choices: list[Choice], wanted: int, knowledge: TrizKnowledge) -> tuple[list[Choice], bool]:
    """Make sure the gold answer is on offer (replacing the last choice); report whether it had to be."""
    if any(c.id == wanted for c in choices):
        return choices, False
    return [*choices[:-1], Choice(wanted, knowledge.parameter_names[wanted].name)], True


@dataclass
class _Steps:
    prompts: PromptLibrary
    knowledge: TrizKnowledge
    inserted: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.frame = FrameStep(self.prompts, self.knowledge)
        self.decompose = DecomposeStep(self.prompts, self.knowledge)
        self.contradict = ContradictStep(self.prompts, self.knowledge)
        self.resolve = ResolveStep(self.prompts, self.knowledge)
        self.deepen = DeepenStep(self.prompts, self.knowledge)

    def examples(self, record: GoldRecord, problem: str, source: str) -> Iterator[dict[str, Any]]:
        k = self.knowledge
        yield _example(self.frame.build(problem=problem), record.frame.model_dump(), source, record.id)
        yield _example(self.decompose.build(problem=problem), {"parts": record.parts}, source, record.id)
        improving, worsening, _ = offer_choices(k, problem)
        for choice in record.contradictions:
            improving, added_up = _ensure(improving, choice.improving, k)
            worsening, added_down = _ensure(worsening, choice.worsening, k)
            self.inserted["improving"] += added_up
            self.inserted["worsening"] += added_down
        reply: dict[str, Any] = {"contradictions": [c.model_dump() for c in record.contradictions]}
        if record.physical is not None:
            reply["physical"] = record.physical.model_dump()
        call = self.contradict.build(problem=problem, improving=improving, worsening=worsening,
                                     most=max(2, len(record.contradictions)))
        yield _example(call, reply, source, record.id)
        for choice in record.contradictions:
            key = f"{choice.improving}x{choice.worsening}"
            principles = [idea.principle for idea in record.ideas[key]]
            call = self.resolve.build(problem=problem, improving=choice.improving, worsening=choice.worsening,
                                      principles=principles)
            yield _example(call, {"ideas": [i.model_dump() for i in record.ideas[key]]}, source, record.id)
        first = record.contradictions[0]
        fix = record.ideas[f"{first.improving}x{first.worsening}"][0].idea
        up, down = offer_deepen_choices(k, fix)
        if record.deepen.new_problem:
            up, added = _ensure(up, record.deepen.improving, k)
            self.inserted["deepen"] += added
            down, added = _ensure(down, record.deepen.worsening, k)
            self.inserted["deepen"] += added
        yield _example(self.deepen.build(problem=problem, fix=fix, improving=up, worsening=down),
                       record.deepen.model_dump(), source, record.id)


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


def lexicon_examples(steps: _Steps, rng: random.Random, count: int) -> Iterator[dict[str, Any]]:
    """Contradiction examples made from the lexicon and the constraint table: "<complaint>, <constraint>"."""
    k = steps.knowledge
    constraints = [c for c in k.constraints if c.parameters]
    parameters = [p for p in k.parameters.values() if p.lexicon]
    for index in range(count):
        parameter = rng.choice(parameters)
        constraint = rng.choice(constraints)
        worsening = constraint.parameters[0]
        if worsening == parameter.id or not k.matrix.principles_of(parameter.id, worsening):
            continue
        problem = f"{rng.choice(parameter.lexicon)}, {rng.choice(constraint.phrases)}"
        improving_choices, worsening_choices, _ = offer_choices(k, problem)
        improving_choices, _ = _ensure(improving_choices, parameter.id, k)
        worsening_choices, _ = _ensure(worsening_choices, worsening, k)
        reason = f"fixing the {rng.choice(parameter.lexicon)} tends to cost in {constraint.name}"[:100]
        reply = {"contradictions": [{"improving": parameter.id, "worsening": worsening, "reason": reason}]}
        call = steps.contradict.build(problem=problem, improving=improving_choices, worsening=worsening_choices)
        yield _example(call, reply, "lexicon", f"lexicon-{index:04d}")


def leak_check(training: Sequence[str], held_out: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs (training problem, held-out problem) that are the same or nearly the same."""
    held = [(text, content_words(text)) for text in held_out]
    found = []
    for text in training:
        words = content_words(text)
        for other, other_words in held:
            union = words | other_words
            if union and len(words & other_words) / len(union) >= NEAR_DUPLICATE:
                found.append((text, other))
    return found


@dataclass
class BuildResult:
    train: int
    valid: int
    card: dict[str, Any]


def build_dataset(out: Path, *, gold_files: Sequence[Path], knowledge: TrizKnowledge, benchmark: Path | None,
                  exports: Sequence[Path] = (), variants: int = 2, lexicon: int = 300, valid_share: float = 0.08,
                  seed: int = 0) -> BuildResult:
    """Write ``train.jsonl``, ``valid.jsonl`` and a data card under ``out``."""
    rng = random.Random(seed)
    steps = _Steps(PromptLibrary(), knowledge)
    records: list[GoldRecord] = []
    for path in gold_files:
        records.extend(read_gold(path))
    if not records:
        raise InputError("no gold records found: give --gold files or keep training/*.jsonl")
    held_out: list[str] = []
    if benchmark is not None:
        for line in benchmark.read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                if case.get("split") in ("dev", "test"):
                    held_out.append(case["problem"])
    leaks = leak_check([r.problem for r in records], held_out)
    if leaks:
        raise InputError(f"{len(leaks)} training problems match dev/test problems, e.g. {leaks[0][0]!r}")
    ids = sorted({r.id for r in records})
    rng.shuffle(ids)
    valid_ids = set(ids[: max(1, int(len(ids) * valid_share))])
    train: list[dict[str, Any]] = []
    valid: list[dict[str, Any]] = []
    for record in records:
        target = valid if record.id in valid_ids else train
        target.extend(steps.examples(record, record.problem, record.source))
        if record.id not in valid_ids:
            for variant in variations(record.problem, rng)[:variants]:
                for example in steps.examples(record, variant, "variant"):
                    if example["step"] in ("frame", "contradict", "resolve"):
                        train.append(example)
    train.extend(lexicon_examples(steps, rng, lexicon))
    for path in exports:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                example = json.loads(line)
                train.append({**example, "source": "store"})
    train = _dedupe(train)
    rng.shuffle(train)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("valid.jsonl", valid)):
        with (out / name).open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    card = {
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "train_examples": len(train), "valid_examples": len(valid),
        "by_step": dict(Counter(r["step"] for r in train)), "by_source": dict(Counter(r["source"] for r in train)),
        "gold_records": len(records), "valid_record_ids": sorted(valid_ids),
        "gold_files": [str(p) for p in gold_files], "exports": [str(p) for p in exports],
        "answers_added_to_offered_lists": dict(steps.inserted),
        "held_out_problems_checked": len(held_out), "leaks": 0,
        "sha256": {name: hashlib.sha256((out / name).read_bytes()).hexdigest()
                   for name in ("train.jsonl", "valid.jsonl")},
        "settings": {"variants": variants, "lexicon": lexicon, "valid_share": valid_share, "seed": seed},
    }
    (out / "data_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (out / "data_card.md").write_text(_card_markdown(card), encoding="utf-8")
    return BuildResult(len(train), len(valid), card)


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
             f"({', '.join(card['gold_files'])}).", "",
             f"- train examples: {card['train_examples']}; valid examples: {card['valid_examples']}",
             f"- dev/test problems checked for leaks: {card['held_out_problems_checked']}; leaks: {card['leaks']}",
             f"- gold answers added to the offered lists: {card['answers_added_to_offered_lists']}",
             f"- train.jsonl sha256: `{card['sha256']['train.jsonl']}`", "", "| step | examples |", "|---|---|"]
    lines += [f"| {step} | {count} |" for step, count in sorted(card["by_step"].items())]
    lines += ["", "| source | examples |", "|---|---|"]
    lines += [f"| {source} | {count} |" for source, count in sorted(card["by_source"].items())]
    return "\n".join(lines) + "\n"
