"""The interface every limiter shares: what a limit is, what is asked, what is decided.

A request is admitted against a list of ``Rule``s (tenant, key, tenant per
alias, ...). Admission is all-or-nothing: every rule is checked first, and only
when all of them pass is anything recorded: one request in each requests-per-
minute window, the reserved tokens in each tokens-per-minute window, a
concurrency slot, and the reserved cost in each budget. When the request ends,
``settle`` replaces the reservations with what was actually used (and frees
the slot); ``release`` gives everything back for a request that never ran.

Because a request is admitted only when its whole reservation fits
(``used + need <= limit``), concurrent admissions never overshoot a limit;
the only overshoot is a request using more than it reserved, which is at most
that one request's excess.

Time is always the caller's ``now`` (wall-clock Unix seconds), so tests drive
it and replicas need only roughly synchronised clocks.

The implementations: ``memory_limiter.MemoryLimiter`` (one process),
``redis_limits.RedisLimiter`` (replicas sharing Redis) and
``sluicegate.group.limiter.GroupLimiter`` (the workers of one ``serve
--workers N``); ``decide`` holds the arithmetic the first two share, so that
they decide alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import msgspec

from sluicegate.admission.budget_periods import Period

__all__ = [
    "CONCURRENCY_RETRY_S",
    "DEFAULT_LEASE_S",
    "WINDOW_S",
    "Ask",
    "Decision",
    "Limiter",
    "LimiterUnavailable",
    "Rule",
    "RuleKind",
    "Ticket",
]

RuleKind = Literal["rpm", "tpm", "concurrency", "budget"]

WINDOW_S = 60
"""Length of the requests/tokens-per-minute window, in one-second buckets."""

DEFAULT_LEASE_S = 600.0
"""A concurrency slot not settled within this long is freed (a crashed replica's slots)."""

CONCURRENCY_RETRY_S = 1.0
"""Retry-After for a concurrency refusal: a slot frees when some request ends,
which nobody can predict, so suggest a short wait."""


class LimiterUnavailable(Exception):
    """The shared limiter state could not be reached (e.g. Redis is down).

    The caller applies its fail-open or fail-closed policy.
    """


@dataclass(frozen=True)
class Rule:
    """One limit on one subject (e.g. tenant 'acme', key 'acme/ci', or 'acme|smart'
    for tenant-per-alias). ``None`` means unlimited."""

    subject: str
    rpm: int | None = None
    tpm: int | None = None  # counted on the *reserved* tokens at admission
    max_concurrency: int | None = None
    budget_usd: float | None = None
    budget_period: Period = "month"  # calendar periods in UTC
    # The subject's counter names, made once rather than on every admission.
    rpm_key: str = field(init=False, repr=False, compare=False)
    tpm_key: str = field(init=False, repr=False, compare=False)
    conc_key: str = field(init=False, repr=False, compare=False)
    # A ticket's keys of each kind for this rule alone ((): the rule has no such limit).
    rpm_keys: tuple[str, ...] = field(init=False, repr=False, compare=False)
    tpm_keys: tuple[str, ...] = field(init=False, repr=False, compare=False)
    conc_keys: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for kind, limit in (("rpm", self.rpm), ("tpm", self.tpm), ("conc", self.max_concurrency)):
            key = f"{kind}:{self.subject}"
            object.__setattr__(self, f"{kind}_key", key)
            object.__setattr__(self, f"{kind}_keys", (key,) if limit is not None else ())


# The per-request records are msgspec Structs: their __init__ is C, a dataclass's
# is Python, and admission builds three of them on every request.
class Ask(msgspec.Struct):
    tokens: int  # reserved tokens (estimated prompt + max_tokens)
    cost_usd: float  # reserved cost
    now: float  # wall-clock unix seconds


class Ticket(msgspec.Struct, eq=False):
    """What an admission reserved, to settle or release later.

    Keys are relative to the limiter (the Redis limiter adds its prefix). A
    ticket is settled or released once; later calls are no-ops (``done``).
    """

    id: str
    second: int  # the window bucket the request and its tokens were counted in
    tokens: int
    cost_micro: int
    rpm_keys: tuple[str, ...]
    tpm_keys: tuple[str, ...]
    concurrency_keys: tuple[str, ...]
    budget_keys: tuple[str, ...]
    done: bool = False

    def end(self) -> bool:
        """Mark the ticket ended; False if it already was (settle or release once)."""
        if self.done:
            return False
        self.done = True
        return True


class Decision(msgspec.Struct):
    admitted: bool
    rule: RuleKind | None  # which limit refused
    subject: str | None
    retry_after_s: float | None  # when a wait would help (None for budget)
    remaining: dict[str, int]  # "requests"/"tokens" of the tightest rule
    reset_s: dict[str, float]  # seconds until those windows are empty again
    ticket: Ticket | None  # to settle/release later when admitted
    limit: dict[str, int] = msgspec.field(default_factory=dict)  # the tightest rules' limits


class Limiter(Protocol):
    async def admit(self, rules: Sequence[Rule], ask: Ask) -> Decision:
        """All or nothing across all rules: if any refuses, nothing is reserved."""
        ...

    async def settle(self, ticket: Ticket, *, tokens: int, cost_usd: float, now: float) -> None:
        """Replace the reservation with actual usage and free the concurrency slot."""
        ...

    async def settle_later(
        self, ticket: Ticket, *, tokens: int, cost_usd: float, now: float
    ) -> None:
        """``settle``, but it may travel with this replica's next call (no round trip
        of its own on the request path); ``flush`` sends what is waiting."""
        ...

    async def flush(self) -> None:
        """Send settlements still waiting (before shutdown)."""
        ...

    async def release(self, ticket: Ticket) -> None:
        """The request never ran: give back everything it reserved."""
        ...

    async def renew(self, ticket: Ticket, now: float) -> None:
        """Extend the concurrency lease of a request still running (long streams)."""
        ...

    async def spent(self, subject: str, period: str, now: float) -> float:
        """USD reserved and spent in the period containing ``now``."""
        ...
