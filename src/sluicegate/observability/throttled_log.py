"""Log lines that cannot flood the log: at most a few a second per key.

An upstream that is down fails every request sent to it; logging each failure
would write thousands of lines a second and slow the loop that serves the
others. A key (a target, say) gets ``burst`` lines at once and then one every
``1 / per_s`` seconds; the lines it did not write are counted and reported with
the next one it does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

# Keys tracked at most (targets, in practice); beyond it the oldest are forgotten.
MAX_KEYS = 10_000


class ThrottledLog:
    def __init__(
        self,
        logger: logging.Logger,
        *,
        per_s: float = 1.0,
        burst: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._per_s = per_s
        self._burst = float(burst)
        self._clock = clock
        # key -> [tokens, last refill time, lines suppressed since the last one written]
        self._buckets: dict[str, list[float]] = {}

    def warning(self, key: str, message: str, *args: object) -> bool:
        """Log ``message % args`` at warning unless ``key`` is over its rate; True if written."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_KEYS:
                self._buckets.pop(next(iter(self._buckets)))
            bucket = self._buckets[key] = [self._burst, now, 0.0]
        tokens = min(self._burst, bucket[0] + (now - bucket[1]) * self._per_s)
        bucket[1] = now
        if tokens < 1:
            bucket[0] = tokens
            bucket[2] += 1
            return False
        bucket[0] = tokens - 1
        suppressed = int(bucket[2])
        bucket[2] = 0
        if suppressed:
            message += " (%d similar lines not logged)"
            args = (*args, suppressed)
        self._log.warning(message, *args)
        return True
