"""Admission: rate limits, token limits, concurrency and budgets.

``limiter`` holds the interface (``Limiter``, ``Rule``, ``Ask``, ``Decision``,
``Ticket``), ``budget_periods`` the budgets' calendar periods and counters,
``decide`` the arithmetic the limiters share and ``windows`` the per-minute
window; ``memory_limiter`` the in-process ``MemoryLimiter``, ``redis_limits``
the ``RedisLimiter`` shared by replicas.
"""

from sluicegate.admission.limiter import Ask, Decision, Limiter, LimiterUnavailable, Rule, Ticket
from sluicegate.admission.memory_limiter import MemoryLimiter

__all__ = [
    "Ask",
    "Decision",
    "Limiter",
    "LimiterUnavailable",
    "MemoryLimiter",
    "Rule",
    "Ticket",
]
