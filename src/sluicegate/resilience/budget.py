"""A retry budget: extra upstream attempts may be only a share of requests.

Retries multiply load at the worst moment: when an upstream is failing, every
client request turns into several upstream calls, and the outage feeds itself.
A budget caps the extra attempts (retries and fallbacks alike) instead of
counting them per request, the way Finagle's ``RetryBudget`` and gRPC's retry
throttling do.

Two sources pay for an extra attempt:

- **Share of requests.** Every request deposits ``percent`` of a token; an extra
  attempt costs one token. Deposits and withdrawals are kept in a rolling
  window and forgotten after ``window_s``, so credit earned by yesterday's
  traffic cannot fund today's retry storm. (Integers in thousandths of a
  token, so the balance never drifts.)
- **Floor.** A token bucket that refills at ``min_per_s`` tokens a second and
  holds up to ``min_per_s * window_s`` (at least one), so a quiet service,
  whose share is tiny, can still retry now and then. It starts full, so a
  freshly started gateway can retry its first failures. It is spent only when
  the share is used up.

Hence, over any run of ``elapsed`` seconds with ``requests`` deposits, the
budget grants at most ``percent * requests + min_per_s * elapsed + reserve``
extra attempts, where ``reserve`` is what the floor held at the start (at most
``max(1, min_per_s * window_s)``).

Time is read from ``clock`` (monotonic seconds); both methods are O(1)
amortized and do no I/O.
"""

from __future__ import annotations

import math
import time

from sluicegate.resilience.breaker import Clock, RollingCounts

__all__ = ["RetryBudget"]

_SCALE = 1000  # thousandths of a token
_DEPOSITS, _SHARE_SPENT, _FLOOR_SPENT = 0, 1, 2


class RetryBudget:
    """Retries may be at most ``percent`` of requests over the last ``window_s``,
    plus a floor of ``min_per_s`` retries per second (so a quiet service can still retry).

    Call ``deposit()`` once per client request and ``try_withdraw()`` before every
    upstream attempt after a request's first; only go ahead when it says yes.
    """

    __slots__ = (
        "_clock",
        "_deposit",
        "_floor_at",
        "_floor_cap",
        "_floor_rate",
        "_floor_tokens",
        "_percent",
        "_window",
    )

    def __init__(
        self,
        *,
        percent: float = 0.2,
        min_per_s: float = 1.0,
        window_s: float = 10.0,
        buckets: int = 10,
        clock: Clock = time.monotonic,
    ) -> None:
        if not percent >= 0 or not math.isfinite(percent):
            raise ValueError(f"percent must be >= 0, not {percent!r}")
        if not min_per_s >= 0 or not math.isfinite(min_per_s):
            raise ValueError(f"min_per_s must be >= 0, not {min_per_s!r}")
        self._percent = percent
        self._deposit = round(percent * _SCALE)
        self._window = RollingCounts(window_s, buckets, 3)
        self._clock = clock
        self._floor_rate = min_per_s
        self._floor_cap = max(1.0, min_per_s * window_s) if min_per_s > 0 else 0.0
        self._floor_tokens = self._floor_cap
        self._floor_at = clock()

    def deposit(self) -> None:
        """One client request arrived."""
        self._window.add(self._clock(), _DEPOSITS)

    def try_withdraw(self) -> bool:
        """May we make one more upstream attempt (a retry or a fallback)? Consumes if yes."""
        now = self._clock()
        window = self._window
        if self._share_credit(now) >= _SCALE:
            window.add(now, _SHARE_SPENT)
            return True
        tokens = self._floor_at_time(now)
        self._floor_at = max(now, self._floor_at)
        if tokens >= 1.0:
            self._floor_tokens = tokens - 1.0
            window.add(now, _FLOOR_SPENT)
            return True
        self._floor_tokens = tokens
        return False

    def snapshot(self) -> dict[str, float]:
        """Figures for the admin API: requests and retries in the window, and what is left."""
        now = self._clock()
        window = self._window
        share = max(0, self._share_credit(now)) / _SCALE
        floor = self._floor_at_time(now)
        return {
            "requests": float(window.total(now, _DEPOSITS)),
            "retries": float(window.total(now, _SHARE_SPENT) + window.total(now, _FLOOR_SPENT)),
            "share_tokens": share,
            "floor_tokens": floor,
            "available": float(math.floor(share) + math.floor(floor)),
            "percent": self._percent,
            "min_per_s": self._floor_rate,
        }

    def _share_credit(self, now: float) -> int:
        # Deposits expire no later than the withdrawals they paid for, so a token
        # can never be spent twice; the balance may dip below zero meanwhile.
        deposits = self._window.total(now, _DEPOSITS)
        spent = self._window.total(now, _SHARE_SPENT)
        return self._deposit * deposits - _SCALE * spent

    def _floor_at_time(self, now: float) -> float:
        elapsed = max(0.0, now - self._floor_at)
        return min(self._floor_cap, self._floor_tokens + elapsed * self._floor_rate)
