"""The admission arithmetic the in-process and Redis limiters share, so they decide alike.

An admission is planned as one :class:`Entry` per counter it checks (a rule's
dimension on one subject; a subject named by several rules is held to the
tightest). Each limiter observes its counters its own way (in process, or in
one Lua script) and reports an :class:`Observation` per entry; :func:`decide`
turns those into the :class:`~sluicegate.admission.limiter.Decision`: which
refusal to report, what is left and when the windows empty. :func:`admitted`
is the same Decision for the one-rule fast paths, which skip the plan.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sluicegate.admission.budget_periods import (
    BUDGET_RETENTION_S,
    budget_counter,
    budget_period_start,
    usd_to_micro,
)
from sluicegate.admission.limiter import WINDOW_S, Ask, Decision, Rule, RuleKind, Ticket

__all__ = ["Entry", "Observation", "admitted", "decide", "new_ticket", "plan"]


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
            key = budget_counter(s, r.budget_period, label)
            add(Entry("budget", s, key, usd_to_micro(r.budget_usd), cost, ttl))
    return list(entries.values())


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
