"""The on-device data: everything the web app's JavaScript engine reads, exported from the Python data.

Nothing here is written by hand a second time: the matrix, the parameters and principles, the separation
principles, the constraints, the hazard rules, the stemmer's word lists, the house library's families,
cards and cases, the library's vectors by kind, the hazard probe (weights and thresholds), the ranking weights,
the planner's defaults, the step prompts (the ``prompts/*.j2`` sources themselves) and the reply schemas
all come from the modules that use them in Python. The page checks ``format`` and ``digest``.

Two files: ``drain-device.json`` (the data, with an index of the vectors: kinds, row counts, keys) and
``drain-vectors.f16`` (every row of the library's index, float16 little-endian, kinds in
:data:`drain.grounding.index.KINDS` order: exactly the values Python scores against).

>>> export = build_export()
>>> export.data["format"], export.data["index"]["dimension"]
(3, 384)
>>> len(export.vectors) == 2 * export.data["index"]["dimension"] * export.data["index"]["rows"]
True
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from drain.files import replacing

if TYPE_CHECKING:
    from drain.grounding.grounder import Grounder
    from drain.grounding.hazards import HazardTuning
    from drain.prompts import PromptLibrary
    from triz.knowledge import TrizKnowledge

__all__ = ["DATA_FILE", "FORMAT", "MODEL_STEPS", "VECTORS_FILE", "DeviceExport", "build_export", "write_export"]

FORMAT = 3  # bump when the page must read the data differently
DATA_FILE = "drain-device.json"
VECTORS_FILE = "drain-vectors.f16"
MODEL_STEPS = ("frame", "contradict", "resolve")  # the steps the phone asks its model (decompose and deepen stay
# on the server: they run only when the library has no confident family or a model wrote an idea)
TEXT_KINDS = ("family", "hazard", "lookalike")  # kinds whose row texts the page shows (the others need keys only)
PLACEHOLDERS = ("@choice-1", "@choice-2")  # stand for the offered ids in the reply schema templates


@dataclass(frozen=True)
class DeviceExport:
    """The data (``digest`` included) and the vectors' bytes."""

    data: dict[str, Any]
    vectors: bytes

    @property
    def digest(self) -> str:
        return str(self.data["digest"])

    def data_bytes(self) -> bytes:
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _text_tables() -> dict[str, Any]:
    from triz import text
    from triz.hazards import TOGETHER_WINDOW

    return {"together_window": TOGETHER_WINDOW, "skip": sorted(text._SKIP), "spelling": dict(text._SPELLING),
            "keep": sorted(text._KEEP), "filler": sorted(text.FILLER)}


def _problem_checks() -> dict[str, Any]:
    from drain import problem

    return {"max_chars": problem.MAX_PROBLEM_CHARS, "english": sorted(problem._ENGLISH - problem._SHARED),
            "instruction": problem._INSTRUCTION.pattern, "marker": problem._MARKER.pattern}


def _knowledge(knowledge: TrizKnowledge) -> dict[str, Any]:
    details = knowledge.principles
    return {
        "parameters": {str(i): row.name for i, row in knowledge.parameter_names.items()},
        "principles": {str(i): {"name": row.name, "summary": details[i].summary,
                                "sub_principles": list(details[i].sub_principles)}
                       for i, row in knowledge.principle_names.items()},
        "matrix": [[c.improving, c.worsening, list(c.principles)] for c in knowledge.matrix.cells()],
        "separations": {str(p): [{"name": o.name, "question": o.question, "principles": list(o.principles)}
                                 for o in knowledge.separate(p)] for p in knowledge.parameter_names},
        "constraints": [{"name": c.name, "phrases": list(c.phrases), "parameters": list(c.parameters)}
                        for c in knowledge.constraints],
        "hazard_rules": [{"category": r.category, "severity": r.severity, "message": r.message,
                          "do_now": list(r.do_now), "professional": r.professional, "triggers": list(r.triggers),
                          "actions": list(r.actions), "together": [[list(group) for group in entry]
                                                                    for entry in r.together]}
                         for r in knowledge.hazards.rules.values()],
        "settled": _settled(knowledge),
    }


def _settled(knowledge: TrizKnowledge) -> dict[str, Any] | None:
    """The settled reading's patterns with their word lists filled in (``engine/settled.js`` compiles them)."""
    reading = knowledge.hazards.settled
    if reading is None:
        return None
    return {"done": [p.pattern for p in reading.done_patterns], "live": [p.pattern for p in reading.live_patterns],
            "negation": reading.negation.pattern, "short_sentence": reading.short_sentence,
            "covers": [p.pattern for p in reading.covers], "pending": [p.pattern for p in reading.pending],
            "category_done": [{"categories": sorted(c), "pattern": p.pattern} for c, p in reading.category_done]}


def _house(grounder: Grounder) -> dict[str, Any]:
    library = grounder.library
    families = [{"id": f.id, "name": f.name, "says": list(f.says), "ideal": f.ideal,
                 "causes": [{"id": c.id, "cause": c.cause, "check": c.check} for c in f.causes],
                 "contradictions": [{"improving": c.improving, "worsening": c.worsening, "why": c.why}
                                    for c in f.contradictions],
                 "physical": [{"parameter": p.parameter, "property": p.property, "high": p.high, "low": p.low,
                               "separation": p.separation, "how": p.how} for p in f.physical]}
                for f in library.families.values()]
    cards = [{"id": c.id, "families": list(c.families), "causes": list(c.causes), "what": c.what,
              "steps": list(c.steps), "materials": list(c.materials), "tools": list(c.tools),
              "cost_usd": list(c.cost_usd), "band": c.band, "time": c.time, "diy": c.diy, "call_pro": c.call_pro,
              "permit": c.permit, "renter_ok": c.renter_ok, "reversible": c.reversible, "hazards": list(c.hazards),
              "principles": [{"id": p.id, "how": p.how} for p in c.principles],
              "creates": [{"problem": f.problem, "improving": f.improving, "worsening": f.worsening,
                           "cards": list(f.cards)} for f in c.creates]}
             for c in library.cards.values()]
    cases = [{"id": c.id, "family": c.family, "pairs": [list(p) for p in c.pairs]} for c in library.cases]
    return {"digest": library.digest, "families": families, "cards": cards, "cases": cases}


def _index(grounder: Grounder) -> tuple[dict[str, Any], bytes]:
    from drain.grounding.index import KINDS

    index = grounder.index
    matrix = np.vstack([index.vectors[kind] for kind in KINDS]).astype("<f2")
    kinds = {kind: {"count": len(index.keys[kind]), "keys": list(index.keys[kind]),
                    **({"texts": list(index.texts[kind])} if kind in TEXT_KINDS else {})} for kind in KINDS}
    meta = {"kinds": list(KINDS), "rows": int(matrix.shape[0]), "dimension": int(matrix.shape[1]),
            "dtype": "float16-le", "by_kind": kinds}
    return meta, matrix.tobytes()


def _fit_factors() -> dict[str, dict[str, float]]:
    """The constraint factors of :func:`drain.grounding.cards.fit`, read off the function one at a time."""
    from drain.grounding.cards import fit
    from drain.schema import Constraints

    def card(band: str = "$", diy: str = "easy", renter_ok: bool = True) -> Any:
        return SimpleNamespace(band=band, diy=diy, renter_ok=renter_ok)

    return {"budget_tight": {band: fit(card(band=band), Constraints(budget="tight")) for band in ("$", "$$", "$$$")},
            "renting_not_renter_ok": {"factor": fit(card(renter_ok=False), Constraints(tenure="rent"))},
            "skill_diy": {diy: fit(card(diy=diy), Constraints(skill="diy")) for diy in ("easy", "moderate", "pro")}}


def _tuning(grounder: Grounder) -> dict[str, Any]:
    from drain.grounding import cards, families, pairs
    from drain.grounding import grounder as grounding

    tuning = grounder.semantic_hazards.tuning
    return {
        "confident": grounding.CONFIDENT, "family_within": grounding.FAMILY_WITHIN,
        "families": {"weights": dict(families.WEIGHTS), "nearest_cases": families.NEAREST_CASES,
                     "close_call": families.CLOSE_CALL, "clause_weight": families.CLAUSE_WEIGHT,
                     "cause_cards": families.CAUSE_CARDS},
        "pairs": {"weights": dict(pairs.WEIGHTS), "sources": list(grounder.pair_sources),
                  "order": list(pairs.SOURCES), "nearest_cases": pairs.NEAREST_CASES,
                  "nearest_cards": pairs.NEAREST_CARDS, "cover": pairs.COVER},
        "cards": {"weights": dict(cards.WEIGHTS), "boosts": dict(cards.BOOSTS), "fit": _fit_factors()},
        "hazards": _probe(tuning),
    }


def _probe(tuning: HazardTuning) -> dict[str, Any]:
    """The hazard probe for the phone: its weights as base64 float16 (one row per class), its bias, its
    thresholds, the margin a clause read on its own needs above them, and the word vector's size and weight
    (drain.grounding.words; the stems are text.js's)."""
    from drain.grounding import hazards, words

    rows = np.ascontiguousarray(tuning.probe.w.T).astype("<f2")
    return {"categories": list(tuning.categories), "thresholds": dict(tuning.thresholds),
            "clause_margin": tuning.clause_margin,
            "weights_f16": base64.b64encode(rows.tobytes()).decode("ascii"), "shape": list(rows.shape),
            "bias": tuning.probe.b.astype(float).tolist(),
            "words": {"dimensions": words.DIMENSIONS, "weight": hazards.WORD_WEIGHT}}


def _steps(prompts: PromptLibrary) -> dict[str, Any]:
    from drain.planner.session import REASK
    from drain.steps import contradict, frame, resolve
    from drain.steps.base import schema_of

    sources = {step: (prompts.folder / f"{step}.j2").read_text(encoding="utf-8") for step in MODEL_STEPS}
    return {
        "reask": REASK,
        "max_tokens_cap": 1024,  # the planner's sampling options cap every step's own limit
        "frame": {"max_tokens": frame.MAX_TOKENS, "template": sources["frame"], "schema": schema_of(frame.FrameReply)},
        "contradict": {"max_tokens": contradict.MAX_TOKENS, "template": sources["contradict"],
                       "schema": schema_of(contradict.reply_model(PLACEHOLDERS, 2))},
        "resolve": {"max_tokens": resolve.MAX_TOKENS, "idea_tokens": resolve.IDEA_TOKENS,
                    "offer_within": resolve.OFFER_WITHIN,
                    "template": sources["resolve"], "schema": schema_of(resolve.reply_model(PLACEHOLDERS, 2, ()))},
        "placeholders": list(PLACEHOLDERS),
    }


def build_export(grounder: Grounder | None = None, *, prompts: PromptLibrary | None = None) -> DeviceExport:
    """The device data from the shipped data (or ``grounder``'s knowledge and library)."""
    from drain import __version__
    from drain.embed.encoder import CHUNK_WORDS
    from drain.planner.settings import PlannerSettings
    from drain.prompts import PromptLibrary
    from drain.schema import SCHEMA_VERSION

    if grounder is None:
        from drain.grounding.grounder import shared_grounder
        from triz.knowledge import load

        grounder = shared_grounder(load())
    prompts = prompts or PromptLibrary()
    index, vectors = _index(grounder)
    data: dict[str, Any] = {
        "format": FORMAT,
        "drain_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "embedding": {"model_id": grounder.index.embedder.model_id, "chunk_words": CHUNK_WORDS},
        "text": _text_tables(),
        "problem": _problem_checks(),
        **_knowledge(grounder.knowledge),
        "house": _house(grounder),
        "index": index,
        "tuning": _tuning(grounder),
        "planner": asdict(PlannerSettings()),
        "steps": _steps(prompts),
    }
    body = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    data["digest"] = hashlib.sha256(body + hashlib.sha256(vectors).digest()).hexdigest()[:16]
    return DeviceExport(data, vectors)


def _write_atomic(path: Path, content: bytes) -> None:
    with replacing(path) as temporary:
        temporary.write_bytes(content)


def write_export(folder: Path, export: DeviceExport | None = None) -> list[Path]:
    """Write the two files into ``folder`` (made if missing); returns their paths."""
    export = export or build_export()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in ((DATA_FILE, export.data_bytes()), (VECTORS_FILE, export.vectors)):
        _write_atomic(folder / name, content)
        written.append(folder / name)
    return written
