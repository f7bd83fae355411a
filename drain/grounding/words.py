"""Which words a text uses, as a fixed-length vector: the hazard probe's second view of a text.

A sentence vector says what a text is about; the words say how it is put. "Sparks", "hissing", "dizzy" or
"myself" next to "breaker" carry weight whatever the sentence around them, and a probe that sees the words
as well as the meaning learns that from the library's phrasings (bench/RESULTS.md section 14).

The words are the project's stems (:func:`triz.text.stems`: lower-cased ASCII words, filler articles
dropped, common endings cut), taken alone and in neighbouring pairs, and hashed (CRC-32 of the ASCII
token, modulo :data:`DIMENSIONS`) to a 0/1 vector scaled to unit length. The phone's engine computes the
same vector (``engine/words.js``, with the stemmer of ``engine/text.js``).

>>> tokens("The breaker sparked twice")
['breaker', 'spark', 'twic', 'breaker spark', 'spark twic']
>>> v = word_vector("The breaker sparked twice")
>>> v.shape, int((v > 0).sum()), round(float(v @ v), 3)
((4096,), 5, 1.0)
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from triz.text import stems

__all__ = ["DIMENSIONS", "tokens", "word_vector", "word_vectors"]

DIMENSIONS = 4096


def tokens(text: str) -> list[str]:
    """The stems of ``text`` in order, then each pair of neighbours joined by a space."""
    words = list(stems(text))
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def word_vector(text: str, dimensions: int = DIMENSIONS) -> np.ndarray:
    """The unit 0/1 vector of the hashed tokens of ``text`` (all zeros for a text without words)."""
    vector = np.zeros(dimensions, dtype=np.float32)
    places = sorted({zlib.crc32(token.encode("ascii")) % dimensions for token in tokens(text)})
    if places:
        vector[places] = np.float32(1.0) / np.float32(np.sqrt(len(places)))  # float32, as the phone computes it
    return vector


def word_vectors(texts: Sequence[str], dimensions: int = DIMENSIONS) -> np.ndarray:
    """:func:`word_vector` of each text, one row each."""
    if not texts:
        return np.zeros((0, dimensions), dtype=np.float32)
    return np.stack([word_vector(text, dimensions) for text in texts])
