"""A request as fair queuing sees it: whose it is, how it weighs, and how urgent."""

from __future__ import annotations

from dataclasses import dataclass

from sluicegate.canonical.tokens import estimate_reservation
from sluicegate.config import Priority
from sluicegate.pipeline import Request

PRIORITY_HEADER = "x-sluicegate-priority"
_PRIORITIES: dict[str, Priority] = {"interactive": "interactive", "batch": "batch"}


@dataclass(frozen=True, slots=True)
class Flow:
    tenant: str  # the tenant's id: a namesake of a deleted tenant starts afresh
    weight: float
    priority: Priority
    prompt_tokens: int  # estimated; charged to the tenant's counter at dispatch
    reserve_tokens: int  # prompt plus the answer's cap: what a tpm quota reserves


def flow_of(request: Request) -> Flow:
    """The request's flow. Its class is the key's (or else the tenant's); a
    ``x-sluicegate-priority`` header may lower it to ``batch``, never raise it,
    so a key meant for bulk work cannot jump the queue."""
    prompt, output = estimate_reservation(request.decoded)
    tenant = request.tenant
    if tenant is None:
        return Flow("", 1.0, "interactive", prompt, prompt + output)
    limits = tenant.limits
    priority: Priority = limits.priority
    if request.api_key is not None:
        key_limits = limits.keys.get(request.api_key.name)
        if key_limits is not None and key_limits.priority is not None:
            priority = key_limits.priority
    asked = _PRIORITIES.get(request.headers.get(PRIORITY_HEADER, "").strip().lower())
    if asked == "batch":
        priority = "batch"
    return Flow(tenant.id, limits.weight, priority, prompt, prompt + output)
