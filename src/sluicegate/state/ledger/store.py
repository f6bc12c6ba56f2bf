"""What the ledger needs from a store, whichever database holds it.

Which tenant's usage: ``tenant_id`` is one tenant, deleted or not; ``tenant``
(a name) is the tenant that has that name now, looked up in the same
database's tenants table, and only its own records: not those of a deleted
tenant that had the name before (a name no tenant has now matches nothing).
Both given, both must hold. Grouped by tenant, each tenant id is its own
group: ``{"key": name, "tenant_id": id, ...}``, so a deleted tenant and its
namesake are two groups with the same key.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from sluicegate.state.ledger.shipper import ShippingStore

GroupBy = Literal["tenant", "key", "alias", "target", "tag", "day", "prompt"]

# The sums every usage answer carries, totals and groups alike, in this order.
SUM_FIELDS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "errors",
    "estimated",
    "cache_hits",
    "saved_usd",
    "unpriced_requests",
)
FLOAT_FIELDS = ("cost_usd", "saved_usd")


class LedgerStore(ShippingStore, Protocol):
    async def usage(
        self,
        *,
        tenant: str | None = None,
        tenant_id: str | None = None,
        key: str | None = None,
        since: float | None = None,
        until: float | None = None,
        group_by: GroupBy | None = None,
    ) -> dict[str, Any]:
        """``{"totals": {...}, "groups": [{"key": ..., ...}]}`` over ``[since, until)``."""
        ...

    async def records(
        self, *, limit: int = 100, tenant: str | None = None, tenant_id: str | None = None
    ) -> list[dict[str, Any]]: ...

    async def spend(
        self,
        tenant_id: str,
        key: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> float:
        """USD spent by a tenant (by its id; or one of its keys) over ``[since, until)``."""
        ...

    async def close(self) -> None: ...


def sums(row: Any) -> dict[str, Any]:
    """One row of sums, in :data:`SUM_FIELDS` order, as an answer's dict."""
    out = dict(zip(SUM_FIELDS, row, strict=True))
    for name in FLOAT_FIELDS:
        out[name] = round(float(out[name]), 10)
    return out


def add_sums(into: dict[str, Any], more: dict[str, Any]) -> None:
    for name in SUM_FIELDS:
        into[name] += more[name]
    for name in FLOAT_FIELDS:
        into[name] = round(into[name], 10)


def empty_sums() -> dict[str, Any]:
    return sums((0,) * len(SUM_FIELDS))


class _Usage(Protocol):
    async def usage(
        self,
        *,
        tenant: str | None = None,
        tenant_id: str | None = None,
        key: str | None = None,
        since: float | None = None,
        until: float | None = None,
        group_by: GroupBy | None = None,
    ) -> dict[str, Any]: ...


class SpendFromUsage:
    """``spend`` for a store whose ``usage`` filters by tenant and key."""

    async def spend(
        self: _Usage,
        tenant_id: str,
        key: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> float:
        usage = await self.usage(tenant_id=tenant_id, key=key, since=since, until=until)
        return float(usage["totals"]["cost_usd"])
