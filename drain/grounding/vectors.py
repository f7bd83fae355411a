"""Sentence vectors by text: the shipped ones (``house/vectors.npz``), then the user's cache, then embedded.

A text's vector depends only on the text and the embedding model, so vectors are kept per text (keyed by
a hash of it) and the house library's index is assembled from them: an edit to the library embeds only
the texts it changed. ``house/vectors.npz`` ships the vectors of every text of the library as released,
so a fresh install (``make demo``, CI) embeds nothing; ``drain kb index`` rewrites it after an edit.

>>> key_of("leaking basement on budget")
'd92cb3ae6f250a6141ba'
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drain.files import replacing

if TYPE_CHECKING:
    from drain.embed import Embedder

__all__ = ["TextVectors", "key_of", "shipped_path", "write_vectors"]

SHIPPED = "vectors.npz"


def key_of(text: str) -> str:
    """The key a text's vector is kept under."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def shipped_path(house: Path | None = None) -> Path:
    """``vectors.npz`` in the house library's folder ``house`` (default: the shipped one, in a checkout or an
    installed wheel)."""
    from triz.resources import find_data_dir

    return find_data_dir("house", house) / SHIPPED


def _read(path: Path, model: str) -> dict[str, np.ndarray]:
    """The vectors of a file, if it holds vectors of ``model``."""
    if not path.is_file():
        return {}
    try:
        with np.load(path) as data:
            if str(data["model"]) != model:
                return {}
            keys, vectors = [str(k) for k in data["keys"]], data["vectors"].astype(np.float32)
    except (OSError, KeyError, ValueError):
        return {}  # a damaged cache is rebuilt, never trusted
    return dict(zip(keys, vectors, strict=True))


def write_vectors(path: Path, model: str, vectors: dict[str, np.ndarray]) -> Path:
    """Write ``vectors`` (key -> vector) to ``path`` atomically, as float16."""
    keys = sorted(vectors)
    matrix = np.stack([vectors[k] for k in keys]).astype(np.float16) if keys else np.zeros((0, 0), np.float16)
    with replacing(path, suffix=".part.npz") as temporary:
        np.savez(temporary, model=np.array(model), keys=np.array(keys), vectors=matrix)
    return path


class TextVectors:
    """Look up, or embed and remember, the vectors of texts."""

    def __init__(self, embedder: Embedder, *, shipped: Path | None = None, cache_dir: Path | None = None) -> None:
        from drain.embed.encoder import cache_root

        self.embedder = embedder
        self.model = embedder.model_id
        self.cache = (cache_dir or cache_root()) / "vectors" / f"texts-{self.model}.npz"
        self.known = {**_read(shipped or shipped_path(), self.model), **_read(self.cache, self.model)}
        self.embedded = 0  # texts this object had to embed

    def get(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text, in order; texts never seen are embedded (and remembered in the cache)."""
        keys = [key_of(text) for text in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.known))
        if missing:
            wanted = {key_of(t): t for t in texts}
            if len(missing) > 50:
                sys.stderr.write(f"drain: embedding {len(missing)} house-library texts once (kept for later)\n")
            fresh = self.embedder.embed([wanted[k] for k in missing])
            self.known.update(zip(missing, fresh, strict=True))
            self.embedded += len(missing)
            mine = _read(self.cache, self.model)
            mine.update(zip(missing, fresh, strict=True))
            write_vectors(self.cache, self.model, mine)
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self.known[k] for k in keys]).astype(np.float32)
