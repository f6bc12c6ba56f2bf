"""Token-aware limits and budgets: the interface, the shared arithmetic, and
the in-process implementation.

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

Windows. Requests and tokens per minute are counted in one-second buckets; the
window at time ``now`` is the 60 buckets ``floor(now) - 59 .. floor(now)``.
That is exact for the buckets it counts (no interpolation between windows, so
no estimate can let a burst through), and a bucket leaves the window at
``second + 60``, which is what ``retry_after_s`` reports.

Budgets are integers in micro-dollars (no float drift), one counter per
subject and UTC calendar period (day, ISO week starting Monday, month, or
``total``), holding reserved plus spent. A reservation is settled in the period
it was reserved in, even if the request ends after the boundary.

Time is always the caller's ``now`` (wall-clock Unix seconds), so tests drive
it and replicas need only roughly synchronised clocks.

``MemoryLimiter`` keeps all state in process and is exact for one process
(every method runs without awaiting, so admissions are atomic under asyncio).
``sluicegate.admission.redis_limits.RedisLimiter`` shares the same semantics
across replicas through one Lua script per call.
"""

from __future__ import annotations

import functools
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from sluicegate.admission.rebuild import BudgetSeed

__all__ = [
    "CONCURRENCY_RETRY_S",
    "DEFAULT_LEASE_S",
    "WINDOW_S",
    "Ask",
    "Decision",
    "Limiter",
    "LimiterUnavailable",
    "MemoryLimiter",
    "Rule",
    "Ticket",
    "budget_period_start",
]

Period = Literal["day", "week", "month", "total"]
RuleKind = Literal["rpm", "tpm", "concurrency", "budget"]

WINDOW_S = 60
"""Length of the requests/tokens-per-minute window, in one-second buckets."""

DEFAULT_LEASE_S = 600.0
"""A concurrency slot not settled within this long is freed (a crashed replica's slots)."""

CONCURRENCY_RETRY_S = 1.0
"""Retry-After for a concurrency refusal: a slot frees when some request ends,
which nobody can predict, so suggest a short wait."""

BUDGET_RETENTION_S = 40 * 86400
"""How long a budget counter outlives its period (for ``spent`` on recent periods)."""

_MICRO = 1_000_000
_PERIODS: dict[str, Period] = {"day": "day", "week": "week", "month": "month", "total": "total"}


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


@dataclass(slots=True)
class Ask:
    tokens: int  # reserved tokens (estimated prompt + max_tokens)
    cost_usd: float  # reserved cost
    now: float  # wall-clock unix seconds


@dataclass(eq=False, slots=True)
class Ticket:
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


@dataclass(slots=True)
class Decision:
    admitted: bool
    rule: RuleKind | None  # which limit refused
    subject: str | None
    retry_after_s: float | None  # when a wait would help (None for budget)
    remaining: dict[str, int]  # "requests"/"tokens" of the tightest rule
    reset_s: dict[str, float]  # seconds until those windows are empty again
    ticket: Ticket | None  # to settle/release later when admitted
    limit: dict[str, int] = field(default_factory=dict)  # the tightest rules' limits


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


# ---------------------------------------------------------------------------
# Shared arithmetic (both implementations use it, so they decide alike)


@dataclass(frozen=True, slots=True)
class Entry:
    """One counter an admission checks: a rule's dimension on one subject."""

    kind: RuleKind
    subject: str
    key: str
    limit: int  # requests, tokens, slots, or micro-dollars
    need: int  # what this ask adds
    ttl_s: int = 0  # budget counters only: expire this long after now (0: never)


@dataclass(frozen=True, slots=True)
class Observation:
    """An entry's state before the ask: ``used``; ``wait_s`` None when the ask
    fits, ``math.inf`` when no wait helps; ``reset_s`` until the window is empty."""

    used: int
    wait_s: float | None
    reset_s: float


def usd_to_micro(usd: float) -> int:
    return round(usd * _MICRO)


def budget_period_start(period: Period, now: float) -> tuple[str, float | None]:
    """The UTC calendar period containing ``now``: (its label, its end as unix
    seconds, or None for ``total``). Weeks start on Monday."""
    # Every period starts at a UTC midnight, so the answer only changes daily.
    return _period_of_day(period, int(now // 86400))


@functools.lru_cache(maxsize=64)
def _period_of_day(period: Period, day_index: int) -> tuple[str, float | None]:
    if period == "total":
        return "total", None
    day = datetime.fromtimestamp(day_index * 86400, UTC)
    if period == "day":
        start, end = day, day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = day.replace(day=1)
        end = (
            start.replace(year=start.year + 1, month=1)
            if start.month == 12
            else (start.replace(month=start.month + 1))
        )
    else:  # pragma: no cover - guarded by the Literal type
        raise ValueError(f"unknown budget period {period!r}")
    return start.date().isoformat(), end.timestamp()


def budget_key(subject: str, period: str, now: float) -> str:
    """The counter of ``subject``'s budget for the ``period`` containing ``now``."""
    known = _PERIODS.get(period)
    if known is None:
        raise ValueError(f"unknown budget period {period!r}")
    label, _ = budget_period_start(known, now)
    return f"budget:{subject}:{period}:{label}"


def plan(rules: Iterable[Rule], ask: Ask) -> list[Entry]:
    """The counters to check, one per (dimension, subject); a subject named by
    several rules is held to the tightest of them."""
    entries: dict[str, Entry] = {}

    def add(entry: Entry) -> None:
        old = entries.get(entry.key)
        if old is None or entry.limit < old.limit:
            entries[entry.key] = entry

    cost = usd_to_micro(ask.cost_usd)
    for r in rules:
        s = r.subject
        if r.rpm is not None:
            add(Entry("rpm", s, r.rpm_key, r.rpm, 1))
        if r.tpm is not None:
            add(Entry("tpm", s, r.tpm_key, r.tpm, ask.tokens))
        if r.max_concurrency is not None:
            add(Entry("concurrency", s, r.conc_key, r.max_concurrency, 1))
        if r.budget_usd is not None:
            label, end = budget_period_start(r.budget_period, ask.now)
            ttl = 0 if end is None else math.ceil(end - ask.now) + BUDGET_RETENTION_S
            key = f"budget:{s}:{r.budget_period}:{label}"
            add(Entry("budget", s, key, usd_to_micro(r.budget_usd), cost, ttl))
    return list(entries.values())


class Window:
    """Per-second amounts over the last ``WINDOW_S`` seconds, with their running total.

    Seconds are inserted in time order, so pruning pops from the front and the
    total is kept, not summed: observing a window is O(1) amortized. ``first``
    and ``last`` are the oldest and newest seconds held (0 when empty), so the
    common case, nothing to prune, is one comparison.
    """

    __slots__ = ("buckets", "first", "last", "total")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.total = 0
        self.first = 0
        self.last = 0

    def add(self, second: int, amount: int) -> None:
        buckets = self.buckets
        if not buckets:
            self.first = self.last = second
        elif second > self.last:
            self.last = second
        elif second < self.first:
            # The clock stepped back: keep the buckets in time order for prune().
            buckets[second] = 0
            self.buckets = buckets = dict(sorted(buckets.items()))
            self.first = second
        buckets[second] = buckets.get(second, 0) + amount
        self.total += amount

    def prune(self, oldest: int) -> None:
        if self.first >= oldest or not self.buckets:
            return
        buckets = self.buckets
        for second in list(buckets):
            if second >= oldest:
                self.first = second
                return
            self.total -= buckets.pop(second)
        self.first = self.last = 0

    def reset_s(self, now: float) -> float:
        """Seconds until the newest bucket leaves the window (0 when empty)."""
        return self.last + WINDOW_S - now if self.buckets else 0.0


def window_observe(window: Window, now: float, need: int, limit: int) -> Observation:
    """Prune ``window`` to the 60 s at ``now`` and say whether ``need`` more fits,
    and if not, how long until enough leaves."""
    window.prune(math.floor(now) - (WINDOW_S - 1))
    buckets = window.buckets
    used = window.total
    reset = window.reset_s(now)
    if used + need <= limit:
        return Observation(used, None, reset)
    if need > limit:
        return Observation(used, math.inf, reset)
    left = used
    for s in sorted(buckets):
        left -= buckets[s]
        if left + need <= limit:
            return Observation(used, max(0.0, s + WINDOW_S - now), reset)
    return Observation(used, float(WINDOW_S), reset)  # unreachable: empty window fits


def decide(
    entries: Sequence[Entry],
    seen: Sequence[Observation],
    ask: Ask,
    ticket: Ticket | None,
) -> Decision:
    """Turn per-entry observations into a Decision (the ask was reserved iff
    ``ticket`` is given and every observation fits)."""
    admitted = ticket is not None
    remaining: dict[str, int] = {}
    limits: dict[str, int] = {}
    resets: dict[str, float] = {}
    refusal: tuple[Entry, float] | None = None
    full_reset = math.floor(ask.now) + WINDOW_S - ask.now
    for entry, obs in zip(entries, seen, strict=True):
        if obs.wait_s is not None and _worse(obs.wait_s, entry, refusal):
            refusal = (entry, obs.wait_s)
        if entry.kind == "rpm" or entry.kind == "tpm":
            name = "requests" if entry.kind == "rpm" else "tokens"
            left = max(0, entry.limit - obs.used - (entry.need if admitted else 0))
            if name not in remaining or left < remaining[name]:
                remaining[name] = left
                limits[name] = entry.limit
                resets[name] = max(obs.reset_s, full_reset) if admitted else obs.reset_s
    if refusal is None:
        return Decision(True, None, None, None, remaining, resets, ticket, limits)
    entry, wait = refusal
    retry = None if math.isinf(wait) else wait
    return Decision(False, entry.kind, entry.subject, retry, remaining, resets, None, limits)


def admitted(
    ticket: Ticket, now: float, windows: Iterable[tuple[str, int, int, float]]
) -> Decision:
    """What :func:`decide` makes of an admission, for the one-rule fast paths.

    ``windows``: per window, its header name, limit, use once this ask is in,
    and seconds until it was empty before it. The reset is at least a full
    window from the ticket's second, which now holds the ask.
    """
    remaining: dict[str, int] = {}
    limits: dict[str, int] = {}
    resets: dict[str, float] = {}
    full_reset = ticket.second + WINDOW_S - now
    for name, limit, used, reset in windows:
        remaining[name] = max(0, limit - used)
        limits[name] = limit
        resets[name] = max(reset, full_reset)
    return Decision(True, None, None, None, remaining, resets, ticket, limits)


def _worse(wait: float, entry: Entry, current: tuple[Entry, float] | None) -> bool:
    """Report the refusal a client can least wait out: a budget first, then one
    no wait fixes, then the longest wait."""
    if current is None:
        return True
    old, old_wait = current
    if old.kind == "budget":
        return False
    if entry.kind == "budget":
        return True
    return wait > old_wait


def new_ticket(entries: Sequence[Entry], ask: Ask) -> Ticket:
    def keys(kind: RuleKind) -> tuple[str, ...]:
        return tuple(e.key for e in entries if e.kind == kind)

    return Ticket(
        id=secrets.token_hex(8),
        second=math.floor(ask.now),
        tokens=ask.tokens,
        cost_micro=usd_to_micro(ask.cost_usd),
        rpm_keys=keys("rpm"),
        tpm_keys=keys("tpm"),
        concurrency_keys=keys("concurrency"),
        budget_keys=keys("budget"),
    )


# ---------------------------------------------------------------------------
# In-process implementation


class MemoryLimiter:
    """Exact limits for a single process; the same semantics as ``RedisLimiter``.

    No method awaits before it is done, so concurrent admissions on one event
    loop are atomic. State of idle subjects is dropped as windows empty and
    leases expire; budget counters stay (one per subject and period).
    """

    def __init__(self, *, lease_s: float = DEFAULT_LEASE_S) -> None:
        self.lease_s = lease_s
        self._windows: dict[str, Window] = {}
        self._slots: dict[str, dict[str, float]] = {}  # key -> ticket id -> lease end
        self._budgets: dict[str, int] = {}
        self._ids = 0
        self._warm = False  # budgets rebuilt from the ledger (see ``seed_budgets``)

    async def admit(self, rules: Sequence[Rule], ask: Ask) -> Decision:
        if len(rules) == 1:
            fast = self._admit_one(rules[0], ask)
            if fast is not None:
                return fast
        entries = plan(rules, ask)
        seen = [self._observe(e, ask.now) for e in entries]
        if any(o.wait_s is not None for o in seen):
            return decide(entries, seen, ask, None)
        ticket = new_ticket(entries, ask)
        for e in entries:
            if e.kind == "rpm" or e.kind == "tpm":
                window = self._windows.get(e.key)
                if window is None:
                    window = self._windows[e.key] = Window()
                window.add(ticket.second, e.need)
            elif e.kind == "concurrency":
                self._slots.setdefault(e.key, {})[ticket.id] = ask.now + self.lease_s
            else:
                self._budgets[e.key] = self._budgets.get(e.key, 0) + e.need
        return decide(entries, seen, ask, ticket)

    def _admit_one(self, rule: Rule, ask: Ask) -> Decision | None:
        """The common case, one rule that admits, without building the general plan:
        the same reservation and Decision as the general path, at a fraction of
        the cost on the request path. None when the rule would refuse (the
        general path then works out which refusal to report), having changed nothing."""
        now = ask.now
        second = math.floor(now)
        oldest = second - (WINDOW_S - 1)
        windows = self._windows
        rpm = tpm = None
        if rule.rpm is not None:
            rpm = windows.get(rule.rpm_key)
            if rpm is None:
                rpm = windows[rule.rpm_key] = Window()
            rpm.prune(oldest)
            if rpm.total + 1 > rule.rpm:
                return None
        if rule.tpm is not None:
            tpm = windows.get(rule.tpm_key)
            if tpm is None:
                tpm = windows[rule.tpm_key] = Window()
            tpm.prune(oldest)
            if tpm.total + ask.tokens > rule.tpm:
                return None
        slots = None
        if rule.max_concurrency is not None:
            slots = self._slots.get(rule.conc_key)
            if slots is None:
                slots = self._slots[rule.conc_key] = {}
            if len(slots) >= rule.max_concurrency:
                _expire(slots, now)
                if len(slots) >= rule.max_concurrency:
                    return None
        cost = usd_to_micro(ask.cost_usd)
        budget = None
        if rule.budget_usd is not None:
            label, _ = budget_period_start(rule.budget_period, now)
            budget = f"budget:{rule.subject}:{rule.budget_period}:{label}"
            if self._budgets.get(budget, 0) + cost > usd_to_micro(rule.budget_usd):
                return None
        # Every check passed: reserve, exactly as the general path would.
        self._ids += 1
        ticket = Ticket(
            f"m{self._ids:x}",
            second,
            ask.tokens,
            cost,
            rule.rpm_keys,
            rule.tpm_keys,
            rule.conc_keys,
            (budget,) if budget is not None else (),
        )
        counted: list[tuple[str, int, int, float]] = []
        if rpm is not None:
            reset = rpm.reset_s(now)
            rpm.add(second, 1)
            counted.append(("requests", rule.rpm, rpm.total, reset))  # type: ignore[arg-type]
        if tpm is not None:
            reset = tpm.reset_s(now)
            tpm.add(second, ask.tokens)
            counted.append(("tokens", rule.tpm, tpm.total, reset))  # type: ignore[arg-type]
        if slots is not None:
            slots[ticket.id] = now + self.lease_s
        if budget is not None:
            self._budgets[budget] = self._budgets.get(budget, 0) + cost
        return admitted(ticket, now, counted)

    def _observe(self, e: Entry, now: float) -> Observation:
        if e.kind == "rpm" or e.kind == "tpm":
            window = self._windows.get(e.key)
            obs = window_observe(window if window is not None else Window(), now, e.need, e.limit)
            if window is not None and not window.buckets:
                del self._windows[e.key]
            return obs
        if e.kind == "concurrency":
            slots = self._slots.get(e.key, {})
            _expire(slots, now)
            used = len(slots)
            if used + 1 <= e.limit:
                return Observation(used, None, 0.0)
            return Observation(used, math.inf if e.limit < 1 else CONCURRENCY_RETRY_S, 0.0)
        used = self._budgets.get(e.key, 0)
        return Observation(used, None if used + e.need <= e.limit else math.inf, 0.0)

    async def settle(self, ticket: Ticket, *, tokens: int, cost_usd: float, now: float) -> None:
        self._settle(ticket, tokens, cost_usd)

    async def settle_later(
        self, ticket: Ticket, *, tokens: int, cost_usd: float, now: float
    ) -> None:
        self._settle(ticket, tokens, cost_usd)  # in process, settling now costs nothing more

    def _settle(self, ticket: Ticket, tokens: int, cost_usd: float) -> None:
        if ticket.done:
            return
        ticket.done = True
        self._adjust(ticket, 0, tokens - ticket.tokens, usd_to_micro(cost_usd) - ticket.cost_micro)

    async def flush(self) -> None:
        return None

    async def release(self, ticket: Ticket) -> None:
        if ticket.done:
            return
        ticket.done = True
        self._adjust(ticket, -1, -ticket.tokens, -ticket.cost_micro)

    def _adjust(self, ticket: Ticket, requests: int, tokens: int, micro: int) -> None:
        windows, second = self._windows, ticket.second
        if requests:
            for key in ticket.rpm_keys:
                window = windows.get(key)
                if window is not None and second in window.buckets:
                    window.add(second, requests)
        if tokens:
            for key in ticket.tpm_keys:
                window = windows.get(key)
                if window is not None and second in window.buckets:
                    window.add(second, tokens)
        for key in ticket.concurrency_keys:
            slots = self._slots.get(key)
            if slots is not None:
                slots.pop(ticket.id, None)
        if micro:
            budgets = self._budgets
            for key in ticket.budget_keys:
                if key in budgets:
                    budgets[key] += micro

    async def renew(self, ticket: Ticket, now: float) -> None:
        if ticket.done:
            return
        for key in ticket.concurrency_keys:
            slots = self._slots.get(key)
            if slots is not None and ticket.id in slots:
                slots[ticket.id] = now + self.lease_s

    async def spent(self, subject: str, period: str, now: float) -> float:
        return self._budgets.get(budget_key(subject, period, now), 0) / _MICRO

    async def cold(self) -> bool:
        """True until budgets have been rebuilt from the ledger: a new process
        starts with none of the spend its predecessors recorded."""
        return not self._warm

    async def seed_budgets(self, seeds: list[BudgetSeed]) -> bool:
        """Add the ledger's spend to the budget counters, once; True when this call did."""
        if self._warm:
            return False
        self._warm = True
        budgets = self._budgets
        for seed in seeds:
            budgets[seed.key] = budgets.get(seed.key, 0) + seed.micro
        return True


def _expire(slots: dict[str, float], now: float) -> None:
    """Drop slots whose lease has ended (their holder never settled: a crash). Only
    needed where a slot count decides: a slot is always given back otherwise."""
    for tid in [t for t, until in slots.items() if until <= now]:
        del slots[tid]
