"""A per-key token bucket, per process.

With several processes behind a sticky load balancer a user's socket lives on
one process, so a per-process bucket limits that user's bid rate as intended.
"""

from __future__ import annotations

import time

from server.core.errors import RateLimited


class RateLimiter:
    def __init__(self, rate_per_second: float, burst: int, *, max_keys: int = 100_000) -> None:
        self.rate = rate_per_second
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, key: str) -> None:
        """Take one token for `key`, or raise `RateLimited`."""
        now = time.monotonic()
        tokens, stamp = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimited("Too many bids; slow down")
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._buckets.clear()
        self._buckets[key] = (tokens - 1.0, now)
