"""How many solves each client may start: a token bucket per client address.

A client has ``burst`` solves at once, and gets one more every ``60 / per_minute`` seconds; past that,
the answer is 429 with ``Retry-After`` (the seconds until the next one).

>>> clock = iter([0.0, 0.0, 0.0, 30.0]).__next__
>>> limits = SolveRateLimiter(per_minute=2, burst=2, clock=clock)
>>> limits.wait_for("10.0.0.7"), limits.wait_for("10.0.0.7"), limits.wait_for("10.0.0.7")
(0.0, 0.0, 30.0)
>>> limits.wait_for("10.0.0.7")  # half a minute later: one solve came back
0.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["SolveRateLimiter"]

MAX_CLIENTS = 10_000  # buckets kept; full ones are dropped first when there are more


class SolveRateLimiter:
    """A token bucket per client: ``burst`` at once, refilled at ``per_minute`` solves a minute."""

    def __init__(self, per_minute: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("the solve rate must be positive and the burst at least 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when counted)

    def wait_for(self, client: str) -> float:
        """Take one solve for ``client``: 0.0 when it may start now, else the seconds until it may."""
        now = self.clock()
        tokens, then = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            self._prune(now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def retry_after(self, seconds: float) -> str:
        """``seconds`` as a ``Retry-After`` value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(seconds)))

    def _prune(self, now: float) -> None:
        if len(self._buckets) <= MAX_CLIENTS:
            return
        for client, (tokens, then) in list(self._buckets.items()):
            if tokens + (now - then) * self.rate >= self.burst:
                del self._buckets[client]
        while len(self._buckets) > MAX_CLIENTS:  # still too many: forget the oldest
            del self._buckets[next(iter(self._buckets))]
