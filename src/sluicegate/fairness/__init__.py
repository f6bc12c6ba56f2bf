"""Fair share of a saturated upstream: who waits, and who goes next.

A deployment with a configured capacity (``max_concurrency``, ``rpm``, ``tpm``)
gets a :class:`CapacityGate`. While it has room, a request passes straight
through; once it is saturated, requests wait in a bounded :class:`FairQueue`
and are served by priority class, then by weighted fair queuing on tokens
across tenants (virtual token counters, as in "Fairness in Serving Large
Language Models", OSDI 2024). A request that cannot be queued, or waits past
its deadline, is shed with 503 and ``Retry-After``.
"""

from sluicegate.fairness.counters import VirtualCounters
from sluicegate.fairness.flow import Flow, flow_of
from sluicegate.fairness.gate import OVERLOADED, CapacityGate, Gates, Slot
from sluicegate.fairness.queue import FairQueue, Waiter

__all__ = [
    "OVERLOADED",
    "CapacityGate",
    "FairQueue",
    "Flow",
    "Gates",
    "Slot",
    "VirtualCounters",
    "Waiter",
    "flow_of",
]
