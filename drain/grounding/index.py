"""The house library as vectors: every text the grounded planner compares a problem with, embedded once.

Rows by kind: ``family`` (each family's name and each way homeowners say it), ``cause`` (each likely cause,
keyed ``family/cause``), ``card`` (what a fix does),
``case`` (labelled problems), ``hazard`` (the *tune* split of the hazard phrasings: the held-out split
is never indexed, so it can measure the check honestly), ``lookalike`` (the tune split of the ordinary
problems that must not alarm), ``parameter`` (each TRIZ parameter's homeowner phrases). One more kind is
held but never searched: ``clause``, the clauses of the tune phrasings and look-alikes (keyed ``hazard:N`` or
``lookalike:N``, the row they come from), which the hazard probe's cross-validation reads as the check reads
a message (:mod:`drain.grounding.clauses`).

The vectors come by text from ``house/vectors.npz`` (shipped) and the user's cache
(:mod:`drain.grounding.vectors`): a solve never embeds the library, and an edit embeds only what it changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drain.grounding.clauses import clauses

if TYPE_CHECKING:
    from drain.embed import Embedder
    from drain.grounding.vectors import TextVectors
    from triz.house import HouseLibrary

__all__ = ["HELD_KINDS", "KINDS", "LibraryIndex", "Neighbour", "library_index", "library_rows"]

KINDS = ("family", "cause", "card", "case", "hazard", "lookalike", "parameter")  # the kinds a query scores
HELD_KINDS = (*KINDS, "clause")  # and those held for the hazard probe's fit only


@dataclass(frozen=True)
class Neighbour:
    """A row close to a query: its kind, the id it stands for, its text and the cosine similarity."""

    kind: str
    key: str
    text: str
    score: float


def _rows(library: HouseLibrary) -> dict[str, list[tuple[str, str]]]:
    """(key, text) rows of every kind, in a fixed order."""
    rows: dict[str, list[tuple[str, str]]] = {kind: [] for kind in HELD_KINDS}
    for family in library.families.values():
        rows["family"] += [(family.id, family.name), *((family.id, said) for said in family.says)]
        rows["cause"] += [(f"{family.id}/{cause.id}", cause.cause) for cause in family.causes]
    rows["card"] = [(card.id, card.what) for card in library.cards.values()]
    rows["case"] = [(case.id, case.text) for case in library.cases]
    rows["hazard"] = [(p.category, p.text) for p in library.phrasings if p.split == "tune"]
    rows["lookalike"] = [(item.near or "", item.text) for item in library.lookalikes if item.split == "tune"]
    for parameter in library.knowledge.parameters.values():
        glosses = dict.fromkeys([parameter.name, *parameter.lexicon])
        rows["parameter"] += [(str(parameter.id), gloss) for gloss in glosses]
    rows["clause"] = [(f"{kind}:{n}", piece) for kind in ("hazard", "lookalike")
                      for n, (_, text) in enumerate(rows[kind]) for piece in clauses(text)]
    return rows


class LibraryIndex:
    """Vectors of the library's texts by kind, with nearest-neighbour queries (cosine on unit vectors)."""

    def __init__(self, keys: dict[str, list[str]], texts: dict[str, list[str]], vectors: dict[str, np.ndarray],
                 embedder: Embedder) -> None:
        self.keys = keys
        self.texts = texts
        self.vectors = vectors
        self.embedder = embedder
        # every searched kind in one matrix: one matrix-vector product scores a query against the whole library
        self._all = np.ascontiguousarray(np.vstack([vectors[kind] for kind in KINDS]), dtype=np.float32)
        bounds = np.cumsum([0, *(len(vectors[kind]) for kind in KINDS)])
        self._slices = {kind: slice(int(bounds[n]), int(bounds[n + 1])) for n, kind in enumerate(KINDS)}
        self._last: tuple[bytes, np.ndarray] | None = None

    def embed(self, text: str) -> np.ndarray:
        """The query vector of one text."""
        return self.embed_all([text])[0]

    def embed_all(self, texts: list[str]) -> np.ndarray:
        """The query vectors of several texts, one row each, in one batch (a message's clauses)."""
        return self.embedder.embed(texts)

    def scores(self, kind: str, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of ``query`` with every row of ``kind`` (the last query's scores are kept)."""
        key = query.tobytes()
        if self._last is None or self._last[0] != key:
            self._last = (key, self._all @ np.asarray(query, dtype=np.float32))
        return self._last[1][self._slices[kind]]

    def nearest(self, kind: str, query: np.ndarray, k: int = 10) -> list[Neighbour]:
        """The ``k`` rows of ``kind`` most similar to ``query``, best first."""
        scores = self.scores(kind, query)
        if not len(scores):
            return []
        top = np.argsort(-scores, kind="stable")[:k]
        return [Neighbour(kind, self.keys[kind][i], self.texts[kind][i], round(float(scores[i]), 4)) for i in top]

    def best_by_key(self, kind: str, query: np.ndarray) -> dict[str, float]:
        """For each key of ``kind``, the similarity of its closest row to ``query``."""
        best: dict[str, float] = {}
        for key, score in zip(self.keys[kind], self.scores(kind, query).tolist(), strict=True):
            if score > best.get(key, -2.0):
                best[key] = score
        return best


def library_rows(library: HouseLibrary) -> dict[str, list[tuple[str, str]]]:
    """(key, text) rows of every kind, in a fixed order: what the index holds."""
    return _rows(library)


def library_index(library: HouseLibrary, embedder: Embedder | None = None,
                  vectors: TextVectors | None = None, *, cache_dir: Path | None = None) -> LibraryIndex:
    """The library's vectors, from the vectors shipped beside it and those cached in ``cache_dir`` (None: the
    configured cache), by text; texts never seen are embedded."""
    from drain.embed import default_embedder
    from drain.grounding.vectors import SHIPPED, TextVectors

    embedder = embedder or default_embedder(cache_dir)
    vectors = vectors or TextVectors(embedder, shipped=library.folder / SHIPPED, cache_dir=cache_dir)
    rows = _rows(library)
    keys = {kind: [key for key, _ in r] for kind, r in rows.items()}
    texts = {kind: [text for _, text in r] for kind, r in rows.items()}
    return LibraryIndex(keys, texts, {kind: vectors.get(texts[kind]) for kind in HELD_KINDS}, embedder)
