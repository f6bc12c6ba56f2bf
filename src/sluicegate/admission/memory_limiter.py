"""The in-process limiter: exact limits and budgets for one process.

Every method runs without awaiting, so admissions are atomic under asyncio
and a limit holds exactly within the process. It is the limiter of a gateway
without Redis, and the one a ``serve --workers N`` supervisor answers its
workers from (``sluicegate.group.limiter``); ``redis_limits.RedisLimiter``
shares the same semantics across replicas.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sluicegate.admission.budget_periods import (
    MICRO_PER_USD,
    budget_counter,
    budget_key,
    budget_period_start,
    usd_to_micro,
)
from sluicegate.admission.decide import (
    Entry,
    Observation,
    admitted,
    decide,
    new_ticket,
    plan,
)
from sluicegate.admission.limiter import (
    CONCURRENCY_RETRY_S,
    DEFAULT_LEASE_S,
    WINDOW_S,
    Ask,
    Decision,
    Rule,
    Ticket,
)
from sluicegate.admission.windows import Window, window_observe

if TYPE_CHECKING:
    from sluicegate.admission.rebuild import BudgetSeed

__all__ = ["MemoryLimiter"]


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
                self._window(e.key).add(ticket.second, e.need)
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
        rpm = tpm = None
        if rule.rpm is not None:
            rpm = self._window(rule.rpm_key)
            rpm.prune(oldest)
            if rpm.total + 1 > rule.rpm:
                return None
        if rule.tpm is not None:
            tpm = self._window(rule.tpm_key)
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
            budget = budget_counter(rule.subject, rule.budget_period, label)
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

    def _window(self, key: str) -> Window:
        """The window of ``key``, a new one if it has none (``_observe`` drops empty ones)."""
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = Window()
        return window

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
        if not ticket.end():
            return
        self._adjust(ticket, 0, tokens - ticket.tokens, usd_to_micro(cost_usd) - ticket.cost_micro)

    async def flush(self) -> None:
        return None

    async def release(self, ticket: Ticket) -> None:
        if not ticket.end():
            return
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
        return self._budgets.get(budget_key(subject, period, now), 0) / MICRO_PER_USD

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
