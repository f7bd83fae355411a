"""Hazards by meaning: a problem, a part of it or an idea that is *like* a known dangerous situation.

The rules of ``matrix/hazards.toml`` stay the floor (nothing they flag is ever cleared); this check adds a
category when the hazard probe (:mod:`drain.grounding.probe`, a softmax over the categories and "nothing
dangerous", fitted on the library's tune rows) gives it a probability of at least its threshold. The probe
reads each text twice: its sentence vector and the words it uses (:mod:`drain.grounding.words`). The
hazard is shown with the known situation of that category closest to the text (``similar_to``) and its
cosine similarity (``score``), so a homeowner sees why.

There are two thresholds, one for the stop-severity categories and one for the cautions, set from the
*tune* split alone by five-fold cross-validation, repeated three times with folds drawn from a hash of each
text (so an edit elsewhere never reshuffles them): each fold's phrasings and look-alikes are read by a
probe fitted without them, and the pair chosen is the one with the most recall on the phrasings by the rules
and the probe together (the stop categories' recall plus the overall recall; the probe is there to catch what
the rules miss) for which the look-alikes it flags beyond those the rules
already flag stay within :data:`FALSE_ALARM_BUDGET` (the rules' own alarms are the rules' to fix, and a
look-alike that tells of a danger dealt with is set aside anyway: :mod:`triz.settled`). On the
tune split a lower bar for the stop categories gained them 8 points of recall at no loss overall.

The check reads a message whole and clause by clause (:mod:`drain.grounding.clauses`), and a clause read on
its own needs its category's threshold plus a margin (:data:`CLAUSE_MARGINS`), chosen with the thresholds:
the cross-validation reads each tune phrasing and look-alike the same way, whole and by its clauses (the
index holds their vectors). Before, it read them whole only, and on the sixth held-out set the clause
readings made 16 of the probe's 22 false alarms and 2 of its 46 catches (bench/RESULTS.md section 18).

The held-out split is never seen here: ``bench/bench_hazards.py`` measures the check on it. The fitted
probe ships as ``house/hazard_probe.npz``, keyed by a digest of what it was fitted on; after a library
edit ``drain kb index`` rewrites it (until then it is refitted in-process, once, and cached).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drain.files import replacing
from drain.grounding.probe import CASE_WEIGHT, L2, RATE, STEPS, Softmax, class_balanced, fit_softmax, probe_digest
from drain.grounding.words import DIMENSIONS, word_vectors

if TYPE_CHECKING:
    from drain.grounding.index import LibraryIndex
    from triz.house import HouseLibrary

__all__ = ["PROBE_FILE", "HazardTuning", "SemanticHazards", "SimilarHazard", "probe_inputs", "tune",
           "write_tuning"]

FALSE_ALARM_BUDGET = 0.03  # the share of tune look-alikes the probe may flag beyond those the rules flag
THRESHOLDS = tuple(round(0.30 + 0.01 * n, 2) for n in range(70))
# how much more a clause read on its own needs than the whole message (2.0: a clause never raises alone)
CLAUSE_MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 2.0)
FOLDS = 5
REPEATS = 3  # cross-validation repeated with differently salted folds: one split's luck moved a bar by 0.08
PROBE_FILE = "hazard_probe.npz"
WORD_WEIGHT = 1.5  # the word vector's scale beside the unit sentence vector (cross-validated: 1, 1.5, 2)


@dataclass(frozen=True)
class SimilarHazard:
    """A hazard category raised by similarity: the closest known situation of it and its similarity."""

    category: str
    score: float
    similar_to: str
    probability: float = 0.0


@dataclass
class HazardTuning:
    """The probe, its classes (the categories, then "nothing dangerous"), the threshold of each category,
    and what the thresholds achieved in cross-validation on the tune split."""

    categories: list[str]
    probe: Softmax
    thresholds: dict[str, float]
    digest: str = ""
    tune_recall: dict[str, float] = field(default_factory=dict)
    tune_false_alarms: float = 0.0
    clause_margin: float = 0.0  # a clause read on its own raises a category at its threshold plus this


@dataclass(frozen=True)
class ProbeInputs:
    """What the probe is fitted on: features (:func:`features`), class labels, weights, and which rows are
    look-alikes."""

    vectors: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    categories: list[str]
    lookalike: np.ndarray  # bool per row
    rule_alarm: np.ndarray  # bool per row: the rules flag this look-alike, or it tells of a danger dealt with
    rule_hit: np.ndarray  # bool per row: the rules raise this phrasing's own category
    digest: str
    texts: list[str]
    clauses: tuple[np.ndarray, list[str]]  # the sentence vector and text of each clause of a phrasing or look-alike
    clause_of: np.ndarray  # the row each clause comes from


def features(vectors: np.ndarray, texts: list[str]) -> np.ndarray:
    """What the probe reads of each text: its sentence vector, then its word vector times :data:`WORD_WEIGHT`.

    >>> features(np.ones((1, 2), np.float32), ["gas smell"]).shape
    (1, 4098)
    """
    return np.hstack([np.atleast_2d(vectors).astype(np.float32), np.float32(WORD_WEIGHT) * word_vectors(texts)])


def probe_inputs(library: HouseLibrary, index: LibraryIndex) -> ProbeInputs:
    """The tune rows of ``index`` as the probe's training set (phrasings, look-alikes, then cases)."""
    keys = index.keys["hazard"]
    categories = sorted(set(keys))
    none = len(categories)
    hazard, looks, cases = index.vectors["hazard"], index.vectors["lookalike"], index.vectors["case"]
    texts = [*index.texts["hazard"], *index.texts["lookalike"], *index.texts["case"]]
    vectors = features(np.vstack([hazard, looks, cases]), texts)
    labels = np.array([categories.index(k) for k in keys] + [none] * (len(looks) + len(cases)), dtype=np.int64)
    weights = np.array([1.0] * (len(hazard) + len(looks)) + [CASE_WEIGHT] * len(cases))
    lookalike = np.array([False] * len(hazard) + [True] * len(looks) + [False] * len(cases))
    check, settled = library.knowledge.check_hazards, library.knowledge.hazards.settled
    # excused: the rules flag it (theirs to fix), or it tells of a danger dealt with, which the check sets aside
    alarms = [bool(check(text)) or (settled is not None and settled.calm(text)) for text in index.texts["lookalike"]]
    rule_alarm = np.array([False] * len(hazard) + alarms + [False] * len(cases))
    hits = [c in {m.category for m in check(text)} for c, text in zip(keys, index.texts["hazard"], strict=True)]
    rule_hit = np.array(hits + [False] * (len(looks) + len(cases)))
    rules = library.knowledge.hazards.rules
    severity = [rules[c].severity if c in rules else "stop" for c in categories]
    offsets = {"hazard": 0, "lookalike": len(hazard)}
    clause_of = np.array([offsets[key.split(":")[0]] + int(key.split(":")[1]) for key in index.keys["clause"]],
                         dtype=np.int64)
    clause_vectors = np.asarray(index.vectors["clause"], dtype=np.float32).reshape(len(clause_of), -1)
    settings = json.dumps(["text-hash folds", "settled excused", "recall with the rules", "clauses", CLAUSE_MARGINS,
                           "words: crc32 of triz.text stems and pairs", DIMENSIONS, WORD_WEIGHT, "float16 w",
                           REPEATS, categories, severity, CASE_WEIGHT, STEPS, RATE, L2, FOLDS, FALSE_ALARM_BUDGET,
                           THRESHOLDS])
    digest = probe_digest(vectors, labels, rule_alarm | rule_hit, clause_vectors, clause_of,
                          "\n".join(index.texts["clause"]), settings)
    return ProbeInputs(vectors, labels, weights, categories, lookalike, rule_alarm, rule_hit, digest, texts,
                       (clause_vectors, list(index.texts["clause"])), clause_of)


def _fit(inputs: ProbeInputs, rows: np.ndarray) -> Softmax:
    labels = inputs.labels[rows]
    weights = class_balanced(labels, inputs.weights[rows])
    return fit_softmax(inputs.vectors[rows], labels, weights, classes=len(inputs.categories) + 1,
                       float32_from=inputs.vectors.shape[1] - DIMENSIONS)


def _folds(inputs: ProbeInputs, repeat: int) -> np.ndarray:
    """A fold number for every phrasing and look-alike (-1 for cases: always fitted on), from a hash of its
    text and the repeat, so that adding or editing a row never moves the others to another fold."""
    case = ~inputs.lookalike & (inputs.labels == len(inputs.categories))
    salt = f"{repeat}:"
    return np.array([-1 if case[n] else int(hashlib.sha1((salt + text).encode("utf-8")).hexdigest()[:8], 16) % FOLDS
                     for n, text in enumerate(inputs.texts)])


def _best_of_each(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The highest probability of each row among ``columns`` (a bool per category); -1 where there are none."""
    return rows[:, columns].max(axis=1) if columns.any() else np.full(len(rows), -1.0)


def _choose(inputs: ProbeInputs, helds: list[np.ndarray], clause_helds: list[np.ndarray],
            stop: np.ndarray) -> tuple[np.ndarray, float, dict[str, float], float]:
    """A threshold per category (one for stop categories, one for cautions) and the clause margin: those with
    the most cross-validated recall of the rules and the probe together (a phrasing is caught when the rules
    raise its category, or the probe does, reading it whole at the bar or one of its clauses at the bar plus
    the margin, as :meth:`SemanticHazards.check` reads a message), averaged over the repeats, within the
    false-alarm budget; of equal recall, the fewer false alarms. ``helds``: each repeat's held-out
    probabilities of every row; ``clause_helds``: the highest of its clauses' (-1 for a row of one clause);
    ``stop``: a bool per category."""
    none = len(inputs.categories)
    phrasings = inputs.labels < none
    looks = inputs.lookalike
    labels = inputs.labels[phrasings]
    ruled = inputs.rule_hit[phrasings]
    stopped = stop[labels]
    fresh = ~inputs.rule_alarm[looks]
    grid = np.array(THRESHOLDS)[:, None]
    best: tuple[float, float, int, int, float] | None = None  # gain, rate, stop bar, caution bar, margin
    for margin in CLAUSE_MARGINS:
        gain = np.zeros((len(grid), len(grid)))
        rate = np.zeros((len(grid), len(grid)))
        for held, clause_held in zip(helds, clause_helds, strict=True):
            own, own_clause = held[phrasings, labels], clause_held[phrasings, labels]
            alone = ruled[None] | (own[None] >= grid) | (own_clause[None] >= grid + margin)  # bar x phrasing
            # the same danger told as one part of a longer message: read as a clause, at the bar plus the margin
            within = ruled[None] | (np.maximum(own, own_clause)[None] >= grid + margin)
            for hit in (alone, within):
                stop_hits, caution_hits = hit[:, stopped].sum(axis=1), hit[:, ~stopped].sum(axis=1)
                gain += (stop_hits / max(1, stopped.sum()))[:, None] \
                    + (stop_hits[:, None] + caution_hits[None, :]) / max(1, len(labels))
            if looks.any():
                whole, clause = held[looks, :none], clause_held[looks, :none]
                by_stop = (_best_of_each(whole, stop)[None] >= grid) \
                    | (_best_of_each(clause, stop)[None] >= grid + margin)
                by_caution = (_best_of_each(whole, ~stop)[None] >= grid) \
                    | (_best_of_each(clause, ~stop)[None] >= grid + margin)
                rate += ((by_stop[:, None, :] | by_caution[None, :, :]) & fresh).mean(axis=2)
        gain, rate = gain / len(helds), rate / len(helds)
        allowed = rate <= FALSE_ALARM_BUDGET
        if not allowed.any():
            continue
        top = np.where(allowed, gain, -np.inf).max()
        ties = allowed & (gain >= top - 1e-12)
        low = np.where(ties, rate, np.inf).min()
        sb, cb = (int(i[0]) for i in np.nonzero(ties & (rate <= low)))
        if best is None or top > best[0] + 1e-12 or (top >= best[0] - 1e-12 and low < best[1] - 1e-12):
            best = (float(top), float(low), sb, cb, margin)
    if best is None:  # nothing keeps within the budget: raise nothing by similarity
        return np.full(none, 2.0), 0.0, {}, 0.0
    _, rate_, sb, cb, margin = best
    bars = np.where(stop, grid[sb, 0], grid[cb, 0])
    caught = [(held[phrasings, labels] >= bars[labels]) | (clause_held[phrasings, labels] >= bars[labels] + margin)
              | ruled for held, clause_held in zip(helds, clause_helds, strict=True)]
    per = {c: round(float(np.mean([hit[labels == n].mean() for hit in caught])), 3)
           for n, c in enumerate(inputs.categories) if (labels == n).any()}
    return bars, margin, per, round(rate_, 4)


def tune(library: HouseLibrary, index: LibraryIndex) -> HazardTuning:
    """Fit the probe on the tune rows and set its threshold by cross-validation (see the module's docstring)."""
    inputs = probe_inputs(library, index)
    if not inputs.categories:
        return HazardTuning([], Softmax(np.zeros((index.vectors["case"].shape[1] + DIMENSIONS, 1), np.float32),
                                        np.zeros(1, np.float32)), {}, inputs.digest)
    rules = library.knowledge.hazards.rules
    stop = np.array([rules[c].severity == "stop" if c in rules else True for c in inputs.categories])
    clause_features = features(*inputs.clauses) if len(inputs.clause_of) else None
    helds, clause_helds = [], []
    for repeat in range(REPEATS):
        folds = _folds(inputs, repeat)
        held = np.zeros((len(inputs.labels), len(inputs.categories) + 1))
        clause_held = np.full_like(held, -1.0)
        for fold in range(FOLDS):
            probe = _fit(inputs, np.flatnonzero(folds != fold))
            rows = np.flatnonzero(folds == fold)
            held[rows] = probe.probabilities(inputs.vectors[rows])
            mine = np.flatnonzero(folds[inputs.clause_of] == fold) if clause_features is not None else []
            if len(mine):
                np.maximum.at(clause_held, inputs.clause_of[mine], probe.probabilities(clause_features[mine]))
        helds.append(held)
        clause_helds.append(clause_held)
    bars, margin, per, rate = _choose(inputs, helds, clause_helds, stop)
    fitted = _fit(inputs, np.arange(len(inputs.labels)))
    probe = Softmax(fitted.w.astype(np.float16).astype(np.float32), fitted.b)  # as shipped: float16 weights
    thresholds = {c: float(bars[n]) for n, c in enumerate(inputs.categories)}
    return HazardTuning(inputs.categories, probe, thresholds, inputs.digest, per, rate, margin)


def write_tuning(path: Path, tuning: HazardTuning) -> Path:
    """Write a fitted probe (atomically) so that a later load with the same digest skips the fit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, suffix=".part.npz") as temporary:
        np.savez(temporary, digest=np.array(tuning.digest), categories=np.array(tuning.categories),
                 w=tuning.probe.w.astype(np.float16), b=tuning.probe.b,
                 thresholds=np.array([tuning.thresholds[c] for c in tuning.categories]),
                 report=np.array(json.dumps({"tune_recall": tuning.tune_recall,
                                             "tune_false_alarms": tuning.tune_false_alarms,
                                             "clause_margin": tuning.clause_margin})))
    return path


def read_tuning(path: Path, digest: str) -> HazardTuning | None:
    """The probe kept at ``path`` if it was fitted on what ``digest`` names (else None: refit)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            if str(data["digest"]) != digest:
                return None
            report = json.loads(str(data["report"]))
            categories = [str(c) for c in data["categories"]]
            thresholds = dict(zip(categories, map(float, data["thresholds"]), strict=True))
            probe = Softmax(data["w"].astype(np.float32), data["b"])
            return HazardTuning(categories, probe, thresholds, digest,
                                report["tune_recall"], report["tune_false_alarms"], float(report["clause_margin"]))
    except (OSError, KeyError, ValueError):
        return None  # a damaged file is refitted, never trusted


def load_tuning(library: HouseLibrary, index: LibraryIndex, cache_dir: Path | None = None) -> HazardTuning:
    """The shipped probe if current, else the cached one, else a fresh fit (then cached)."""
    from drain.embed.encoder import cache_root

    digest = probe_inputs(library, index).digest
    cached = (cache_dir or cache_root()) / "probe" / f"hazard-probe-{digest}.npz"
    for path in (library.folder / PROBE_FILE, cached):
        found = read_tuning(path, digest)
        if found is not None:
            return found
    sys.stderr.write("drain: fitting the hazard probe to the edited library once (a few minutes; "
                     "`drain kb index` ships it)\n")
    tuning = tune(library, index)
    write_tuning(cached, tuning)
    return tuning


class SemanticHazards:
    """Raise hazard categories for texts like the library's dangerous situations."""

    def __init__(self, library: HouseLibrary, index: LibraryIndex, tuning: HazardTuning | None = None,
                 cache_dir: Path | None = None) -> None:
        self.index = index
        self.tuning = tuning or load_tuning(library, index, cache_dir)
        self.settled = library.knowledge.hazards.settled
        keys = index.keys["hazard"]
        self._rows = {c: np.array([i for i, k in enumerate(keys) if k == c]) for c in self.tuning.categories}

    def check(self, query: np.ndarray, text: str,
              parts: Sequence[tuple[np.ndarray, str]] = ()) -> list[SimilarHazard]:
        """The categories a text (its vector ``query``) raises, most probable first.

        ``parts``: the vectors and texts of its clauses (:func:`drain.grounding.clauses.clauses`), each read
        on its own as well, where a category needs its threshold plus the tuning's ``clause_margin``; a
        category is raised by the reading that gives it the highest probability among those that reach their
        bar, and explained by the known situation closest to that reading. A category the text tells of as dealt with
        is left out (:mod:`triz.settled`, the clauses as its pieces), as the rules leave it out.
        """
        tuning = self.tuning
        if not tuning.categories:
            return []
        readings = [(np.asarray(query, dtype=np.float32), text),
                    *((np.asarray(v, dtype=np.float32), t) for v, t in parts)]
        p = tuning.probe.probabilities(features(np.vstack([v for v, _ in readings]), [t for _, t in readings]))
        found = []
        margins = np.array([0.0] + [tuning.clause_margin] * (len(readings) - 1))
        for n, category in enumerate(tuning.categories):
            rows = self._rows[category]
            reaching = np.where(p[:, n] >= tuning.thresholds[category] + margins, p[:, n], -1.0)
            best_reading = int(np.argmax(reaching))  # the first of equals: the whole text before its clauses
            if reaching[best_reading] < 0 or not len(rows):
                continue
            if self._settled(text, category, readings, p[:, n]):
                continue
            scores = self.index.scores("hazard", readings[best_reading][0])
            best = int(rows[np.argmax(scores[rows])])
            found.append(SimilarHazard(category, round(float(scores[best]), 3), self.index.texts["hazard"][best],
                                       round(float(p[best_reading, n]), 3)))
        found.sort(key=lambda h: -h.probability)
        return found

    def _settled(self, text: str, category: str, readings: list[tuple[np.ndarray, str]], p: np.ndarray) -> bool:
        """Whether the text tells of ``category`` as dealt with; ``p``: its probability in each reading."""
        if self.settled is None or not self.settled.calm(text, category):
            return False
        bar = self.tuning.thresholds[category] + (self.tuning.clause_margin if len(readings) > 1 else 0.0)
        pieces = [t for _, t in readings[1:]] or [text]
        offset = 1 if len(readings) > 1 else 0
        return self.settled.sets_aside(text, category, pieces, lambda n: bool(p[n + offset] >= bar))
