"""A hazard probe: a linear read of a text's features that tells dangerous situations from ordinary ones.

The nearest phrasing alone says what a text is *about* (a gas bill and a gas leak are close); the probe is
trained to tell them apart. It is a softmax regression over the hazard categories and one class for
"nothing dangerous", fitted on the library's *tune* rows only: the hazard phrasings (their category), the
look-alikes and the labelled cases (nothing dangerous; cases weigh less, they are many and plain). Every
class weighs the same in total, so 30 phrasings of a category count as much as 2,000 ordinary problems.

The fit is deterministic (full-batch Adam from zeros, fixed steps), so the same library gives the same
weights on any machine; ``drain kb index`` ships them in ``house/hazard_probe.npz``, keyed by a digest of
what they were fitted on, and a library edited since is refitted in-process (a few minutes, once).

>>> import numpy as np
>>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]], dtype=np.float32)
>>> probe = fit_softmax(x, np.array([0, 0, 1, 1]), np.ones(4), classes=2)
>>> int(probe.probabilities(np.array([1.0, 0.0])).argmax())
0
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

__all__ = ["CASE_WEIGHT", "Softmax", "class_balanced", "fit_softmax", "probe_digest"]

CASE_WEIGHT = 0.1  # a labelled case counts a tenth of a look-alike before the classes are balanced
L2 = 1e-5  # on the weights; the fit is close to unregularised, the fixed step count stops it early
STEPS = 400
RATE = 0.05


@dataclass(frozen=True)
class Softmax:
    """Weights ``w`` (dimension x classes) and bias ``b``: class probabilities of one vector or many."""

    w: np.ndarray
    b: np.ndarray

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Softmax of ``x @ w + b`` in float64 (as the phone's engine computes it): one row per vector."""
        logits = np.atleast_2d(x).astype(np.float64) @ self.w.astype(np.float64) + self.b.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        p = e / e.sum(axis=1, keepdims=True)
        return p[0] if x.ndim == 1 else p


def class_balanced(labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``weights`` rescaled so that every class present has the same total weight (mean weight 1)."""
    out = weights.astype(np.float64).copy()
    present = np.unique(labels)
    for c in present:
        mask = labels == c
        out[mask] *= len(labels) / (len(present) * out[mask].sum())
    return out


def fit_softmax(x: np.ndarray, labels: np.ndarray, weights: np.ndarray, *, classes: int,
                float32_from: int | None = None, steps: int = STEPS, rate: float = RATE, l2: float = L2) -> Softmax:
    """Weighted softmax regression by full-batch Adam from zeros: the same inputs give the same weights.

    ``float32_from``: the columns from there on (the word part: thousands of 0/1 columns) are multiplied in
    float32, four times faster than float64 and exact enough for them; the rest in float64.
    """
    split = x.shape[1] if float32_from is None else float32_from
    dense, words = x[:, :split].astype(np.float64), x[:, split:].astype(np.float32)
    n, d = x.shape
    target = np.zeros((n, classes))
    target[np.arange(n), labels] = 1.0
    share = (weights / weights.sum())[:, None]
    params = [np.zeros((split, classes)), np.zeros((d - split, classes)), np.zeros(classes)]
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    for step in range(1, steps + 1):
        logits = dense @ params[0] + words @ params[1].astype(np.float32) + params[2]
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - target) * share
        grads = [dense.T @ error + l2 * params[0], (words.T @ error.astype(np.float32)) + l2 * params[1],
                 error.sum(axis=0)]
        for param, grad, (m, v) in zip(params, grads, moments, strict=True):
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            param -= rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return Softmax(np.vstack(params[:2]).astype(np.float32), params[2].astype(np.float32))


def probe_digest(*parts: np.ndarray | str) -> str:
    """A digest of what a probe is fitted on (vectors, labels, settings), to know a shipped one is current."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.tobytes() if isinstance(part, np.ndarray) else part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:20]
