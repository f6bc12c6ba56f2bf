"""Resilience building blocks: circuit breakers, the retry budget, backoff, target health.

Pure and synchronous: no I/O, no background tasks, time read from an injected
clock and chance from an injected ``random.Random``, so tests drive both. The
upstream-call stage composes them.
"""

from sluicegate.resilience.backoff import BackoffPolicy, backoff_s, retry_delay
from sluicegate.resilience.breaker import (
    DEFAULT_POLICY,
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    Clock,
    RollingCounts,
)
from sluicegate.resilience.budget import RetryBudget
from sluicegate.resilience.health import TargetHealth, TargetState

__all__ = [
    "DEFAULT_POLICY",
    "BackoffPolicy",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "Clock",
    "RetryBudget",
    "RollingCounts",
    "TargetHealth",
    "TargetState",
    "backoff_s",
    "retry_delay",
]
