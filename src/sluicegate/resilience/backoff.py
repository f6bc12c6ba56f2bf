"""How long to wait before trying a target again.

Exponential backoff with "full jitter" (a uniform draw between zero and the
exponential ceiling) spreads the retries of many clients that failed together,
so they do not come back in lockstep. An upstream's own ``Retry-After`` wins
when it is short; when it is long, waiting would only hold the client's
request hostage, so the caller should go to another target instead.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["BackoffPolicy", "backoff_s", "retry_delay"]


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Field names match ``sluicegate.config.schema.BackoffConfig``."""

    base_s: float = 0.1
    max_s: float = 2.0
    # Honour an upstream's Retry-After up to this; longer -> don't wait, fail over instead.
    max_retry_after_s: float = 5.0

    def __post_init__(self) -> None:
        if not (self.base_s >= 0 and self.max_s >= 0 and self.max_retry_after_s >= 0):
            raise ValueError("backoff durations must be >= 0")


# 2**_MAX_DOUBLINGS times any sane base exceeds any sane cap; stops float overflow.
_MAX_DOUBLINGS = 60


def backoff_s(attempt: int, policy: BackoffPolicy, rng: random.Random) -> float:
    """Full jitter: ``uniform(0, min(max_s, base_s * 2**attempt))``; ``attempt`` starts at 0."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, not {attempt}")
    if attempt >= _MAX_DOUBLINGS:
        ceiling = policy.max_s
    else:
        ceiling = min(policy.max_s, policy.base_s * (1 << attempt))
    return rng.uniform(0.0, ceiling)


def retry_delay(
    retry_after: float | None, attempt: int, policy: BackoffPolicy, rng: random.Random
) -> float | None:
    """Seconds to wait before retrying this target, or None: do not wait on it, fail over.

    A ``Retry-After`` (in seconds, already parsed) of at most ``max_retry_after_s``
    is honoured as given (a negative one as 0); a longer one means None. Without
    one (or with a NaN), the jittered exponential backoff for ``attempt`` applies.
    """
    if retry_after is None or math.isnan(retry_after):
        return backoff_s(attempt, policy, rng)
    if retry_after > policy.max_retry_after_s:
        return None
    return max(0.0, retry_after)
