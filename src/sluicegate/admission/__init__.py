"""Admission: rate limits, token limits, concurrency and budgets.

``limits`` holds the interface (``Limiter``, ``Rule``, ``Ask``, ``Decision``,
``Ticket``) and the in-process ``MemoryLimiter``; ``redis_limits`` the
``RedisLimiter`` shared by replicas.
"""

from sluicegate.admission.limits import (
    Ask,
    Decision,
    Limiter,
    LimiterUnavailable,
    MemoryLimiter,
    Rule,
    Ticket,
)

__all__ = [
    "Ask",
    "Decision",
    "Limiter",
    "LimiterUnavailable",
    "MemoryLimiter",
    "Rule",
    "Ticket",
]
