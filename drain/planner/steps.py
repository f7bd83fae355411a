"""The planner's steps. Each builds one model request (messages from its template in ``prompts/``, a JSON
schema from its reply model narrowed to this call's choices) and checks the parsed reply.

>>> from drain.prompts import PromptLibrary
>>> import triz
>>> step = ResolveStep(PromptLibrary(), triz.load())
>>> call = step.build(problem="wet basement", improving=30, worsening=32, principles=[24, 35, 2])
>>> [item["properties"]["principle"]["const"] for item in call.schema["properties"]["ideas"]["prefixItems"]]
[24, 35, 2]
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from drain.planner.replies import (
    BaselineReply,
    ContradictReply,
    DecomposeReply,
    DeepenReply,
    FrameReply,
    ResolveReply,
)
from drain.prompts import PromptLibrary
from drain.textutil import content_words, overlap
from triz.knowledge import TrizKnowledge
from triz.text import stems

__all__ = [
    "BaselineStep",
    "Choice",
    "ContradictStep",
    "DecomposeStep",
    "DeepenStep",
    "FrameStep",
    "ResolveStep",
    "StepCall",
]


@dataclass(frozen=True)
class Choice:
    """A parameter offered to the model: id, name and the homeowner's words that pointed to it."""

    id: int
    name: str
    hint: str = ""


@dataclass(frozen=True)
class StepCall:
    """One request, ready to send: what to ask, the schema, how to check the parsed reply."""

    step: str
    messages: list[dict[str, str]]
    schema: dict[str, Any]
    reply_model: type[BaseModel]
    max_tokens: int
    check: Callable[[Any], None]


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace ``$ref``s by their definitions, so per-call narrowing can edit one place."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]))
            return {k: walk(v) for k, v in node.items() if k not in ("$defs", "title")}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)


def _base_schema(model: type[BaseModel]) -> dict[str, Any]:
    return _inline(model.model_json_schema())


def _no_check(reply: Any) -> None:
    del reply


class _Step:
    name = "step"
    reply_model: type[BaseModel] = BaseModel
    max_tokens = 128

    def __init__(self, prompts: PromptLibrary, knowledge: TrizKnowledge) -> None:
        self.prompts = prompts
        self.knowledge = knowledge

    def _call(self, schema: dict[str, Any], check: Callable[[Any], None] = _no_check, max_tokens: int | None = None,
              **context: Any) -> StepCall:
        messages = self.prompts.render(self.name, **context)
        return StepCall(self.name, messages, schema, self.reply_model, max_tokens or self.max_tokens, check)


class FrameStep(_Step):
    """Restate the problem, state the ideal final result, read the constraints."""

    name = "frame"
    reply_model = FrameReply
    max_tokens = 160

    def build(self, *, problem: str) -> StepCall:
        return self._call(_base_schema(FrameReply), problem=problem)


class DecomposeStep(_Step):
    """Split the problem into at most three parts."""

    name = "decompose"
    reply_model = DecomposeReply
    max_tokens = 120

    def build(self, *, problem: str) -> StepCall:
        def check(reply: DecomposeReply) -> None:
            seen = set()
            for part in reply.parts:
                key = stems(part)
                if key in seen:
                    raise ValueError(f"part {part!r} is listed twice")
                if content_words(part) == content_words(problem):
                    raise ValueError(f"part {part!r} only repeats the problem")
                seen.add(key)

        return self._call(_base_schema(DecomposeReply), check, problem=problem)


class ContradictStep(_Step):
    """Choose improving and worsening parameters among the lexicon's candidates (an enum in the schema)."""

    name = "contradict"
    reply_model = ContradictReply
    max_tokens = 160

    def build(self, *, problem: str, improving: Sequence[Choice], worsening: Sequence[Choice],
              most: int = 2) -> StepCall:
        up, down = [c.id for c in improving], [c.id for c in worsening]
        schema = _base_schema(ContradictReply)
        item = schema["properties"]["contradictions"]
        item["maxItems"] = max(1, most)
        item["items"]["properties"]["improving"] = {"type": "integer", "enum": up}
        item["items"]["properties"]["worsening"] = {"type": "integer", "enum": down}
        physical = next(o for o in schema["properties"]["physical"]["anyOf"] if o.get("type") == "object")
        physical["properties"]["parameter"] = {"type": "integer", "enum": sorted(set(up) | set(down))}

        def check(reply: ContradictReply) -> None:
            pairs = set()
            for choice in reply.contradictions:
                if choice.improving not in up:
                    raise ValueError(f"improving must be one of {up}, not {choice.improving}")
                if choice.worsening not in down:
                    raise ValueError(f"worsening must be one of {down}, not {choice.worsening}")
                if choice.improving == choice.worsening:
                    raise ValueError("improving and worsening must be different parameters")
                if (choice.improving, choice.worsening) in pairs:
                    raise ValueError(f"the pair {choice.improving}, {choice.worsening} is given twice")
                pairs.add((choice.improving, choice.worsening))
            if len(reply.contradictions) > most:
                raise ValueError(f"give at most {most} contradictions")
            if reply.physical is not None and reply.physical.parameter not in set(up) | set(down):
                raise ValueError("physical.parameter must be one of the listed ids")

        return self._call(schema, check, problem=problem, improving=improving, worsening=worsening)


class ResolveStep(_Step):
    """One idea per principle of the matrix cell; the schema fixes the principles and their order."""

    name = "resolve"
    reply_model = ResolveReply
    max_tokens = 45

    def example_for(self, principle: int, problem: str) -> str:
        """The principle's home example closest to the problem: shared TRIZ parameters, then shared words."""
        examples = self.knowledge.principles[principle].home_examples
        wanted_words = content_words(problem)
        wanted_topics = self.knowledge.topics(problem)

        def closeness(example: str) -> tuple[int, int]:
            topics = self._topics(example)
            shared = sum(2 + min(2, topics[name] - 1) for name in wanted_topics if name in topics)
            return (2 * len(wanted_words & content_words(example)) + shared, -examples.index(example))

        return max(examples, key=closeness)

    def _topics(self, example: str) -> dict[str, int]:
        cache = self.__dict__.setdefault("_example_topics", {})
        if example not in cache:
            cache[example] = self.knowledge.topics(example)
        return cache[example]

    def build(self, *, problem: str, improving: int, worsening: int, principles: Sequence[int]) -> StepCall:
        schema = _base_schema(ResolveReply)
        template = schema["properties"]["ideas"].pop("items")
        items = []
        for pid in principles:
            item = copy.deepcopy(template)
            item["properties"]["principle"] = {"type": "integer", "const": pid}
            items.append(item)
        # No "items": false here: minItems = maxItems already closes the list, and llama.cpp's
        # server rejects boolean sub-schemas.
        schema["properties"]["ideas"].update(prefixItems=items, minItems=len(items), maxItems=len(items))
        expected = list(principles)

        def check(reply: ResolveReply) -> None:
            got = [idea.principle for idea in reply.ideas]
            if got != expected:
                raise ValueError(f"give exactly one idea for each principle, in this order: {expected}")
            seen: list[set[str]] = []
            for idea in reply.ideas:
                words = content_words(idea.idea)
                if overlap(idea.idea, problem) >= 0.8:
                    raise ValueError(f"the idea for principle {idea.principle} only repeats the problem")
                if any(words and len(words & other) >= 0.8 * len(words) for other in seen):
                    raise ValueError(f"the idea for principle {idea.principle} repeats another idea")
                seen.append(words)

        names = self.knowledge.parameter_names
        views = [
            {"id": pid, "name": self.knowledge.principles[pid].name, "summary": self.knowledge.principles[pid].summary,
             "example": self.example_for(pid, problem)}
            for pid in principles
        ]
        return self._call(
            schema, check, max_tokens=self.max_tokens * len(expected) + 20, problem=problem,
            improving=names[improving].name.lower(), worsening=names[worsening].name.lower(), principles=views,
        )


class DeepenStep(_Step):
    """The new problem a fix creates, as a new contradiction (or an empty ``new_problem``: none)."""

    name = "deepen"
    reply_model = DeepenReply
    max_tokens = 110

    def build(self, *, problem: str, fix: str, improving: Sequence[Choice], worsening: Sequence[Choice]) -> StepCall:
        up, down = [c.id for c in improving], [c.id for c in worsening]
        schema = _base_schema(DeepenReply)
        schema["properties"]["improving"] = {"type": "integer", "enum": up}
        schema["properties"]["worsening"] = {"type": "integer", "enum": down}

        def check(reply: DeepenReply) -> None:
            if reply.improving not in up or reply.worsening not in down:
                raise ValueError(f"improving must be one of {up} and worsening one of {down}")
            if reply.new_problem and reply.improving == reply.worsening:
                raise ValueError("improving and worsening must differ")

        return self._call(schema, check, problem=problem, fix=fix, improving=improving, worsening=worsening)


class BaselineStep(_Step):
    """The evaluation's plain baseline: two parameter ids, no lexicon, no matrix."""

    name = "baseline"
    reply_model = BaselineReply
    max_tokens = 40

    def build(self, *, problem: str) -> StepCall:
        return self._call(_base_schema(BaselineReply), problem=problem)
