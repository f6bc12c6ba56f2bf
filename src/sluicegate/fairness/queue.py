"""The bounded queue of requests waiting for a saturated deployment."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass, field

from sluicegate.admission.limiter import Ticket
from sluicegate.fairness.counters import VirtualCounters
from sluicegate.fairness.flow import Flow

# Served strictly in this order: batch work waits while interactive work waits.
CLASSES = ("interactive", "batch")

_sequence = itertools.count()


@dataclass(eq=False)
class Waiter:
    flow: Flow
    future: asyncio.Future[None]
    seq: int = field(default_factory=lambda: next(_sequence))
    ticket: Ticket | None = None  # set when dispatched


class FairQueue:
    """Per class, one FIFO per tenant; the next waiter is the head of the
    backlogged tenant with the smallest virtual counter in the highest class.

    Ties go to the most recent arrival: a tenant joining from idle is lifted
    exactly to the smallest waiting counter, and should then go next rather
    than queue behind the tenant that has been hogging the upstream."""

    def __init__(self, counters: VirtualCounters, max_waiting: int) -> None:
        self.counters = counters
        self.max_waiting = max_waiting
        self._lanes: dict[str, dict[str, deque[Waiter]]] = {c: {} for c in CLASSES}
        self._waiting: dict[str, int] = {}  # per tenant, across classes
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, waiter: Waiter) -> bool:
        """Queue ``waiter``; False when the queue is full."""
        if self._size >= self.max_waiting:
            return False
        tenant = waiter.flow.tenant
        if not self._waiting.get(tenant):
            # Joining from idle: start level with the tenants already waiting.
            backlogged = [self.counters[t] for t, n in self._waiting.items() if n]
            self.counters.lift(tenant, min(backlogged, default=self.counters.virtual_time))
        self._lanes[waiter.flow.priority].setdefault(tenant, deque()).append(waiter)
        self._waiting[tenant] = self._waiting.get(tenant, 0) + 1
        self._size += 1
        return True

    def peek(self) -> Waiter | None:
        for lanes in self._lanes.values():
            best: Waiter | None = None
            best_rank = (0.0, 0)
            for tenant, lane in lanes.items():
                rank = (self.counters[tenant], -lane[0].seq)
                if best is None or rank < best_rank:
                    best, best_rank = lane[0], rank
            if best is not None:
                return best
        return None

    def remove(self, waiter: Waiter) -> bool:
        """Take ``waiter`` out (dispatched, timed out or cancelled); False if not queued."""
        tenant = waiter.flow.tenant
        lanes = self._lanes[waiter.flow.priority]
        lane = lanes.get(tenant)
        if lane is None:
            return False
        if lane and lane[0] is waiter:
            lane.popleft()
        else:
            try:
                lane.remove(waiter)
            except ValueError:
                return False
        if not lane:
            del lanes[tenant]
        self._waiting[tenant] -= 1
        if not self._waiting[tenant]:
            del self._waiting[tenant]
        self._size -= 1
        return True
