"""What caching is worth, per tenant and alias, from the ledger.

Two caches show up in the ledger:

- the gateway's response cache: ``cache_hits`` (requests answered without an
  upstream call) and ``saved_usd`` (what those calls would have cost);
- the providers' prompt caches (OpenAI's automatic prefix caching, Anthropic's
  ``cache_control`` breakpoints): ``cached_tokens`` read from the provider's
  cache, usually at a discount, and ``cache_write_tokens`` written to it, at a
  premium on Anthropic. Whether prefix caching pays is the discount earned on
  reads against the premium paid on writes, both at the alias's configured
  prices (cached reads and writes priced as plain input when the alias names no
  such price, so they then neither save nor cost anything).

Prices are today's configuration, applied to the ledger's tokens; a record is
attributed to the alias the client asked for, even when a fallback served it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sluicegate.config import PricingConfig
from sluicegate.runtime.aliases import Alias


class UsageSource(Protocol):
    async def ausage(self, **query: Any) -> dict[str, Any]: ...


_MTOK = 1_000_000


def economics(sums: Mapping[str, Any], pricing: PricingConfig | None) -> dict[str, Any]:
    """The cache figures of one group of ledger sums (``GET /admin/usage``'s shape)."""
    cached = int(sums.get("cached_tokens", 0))
    written = int(sums.get("cache_write_tokens", 0))
    read_savings = premium = 0.0
    if pricing is not None:
        plain = pricing.input_per_mtok
        read = pricing.cached_input_per_mtok
        write = pricing.cache_write_per_mtok
        read_savings = cached * (plain - (plain if read is None else read)) / _MTOK
        premium = written * ((plain if write is None else write) - plain) / _MTOK
    return _figures({**sums, "read_savings_usd": read_savings, "write_premium_usd": premium})


def _figures(sums: Mapping[str, Any]) -> dict[str, Any]:
    requests = int(sums.get("requests", 0))
    hits = int(sums.get("cache_hits", 0))
    input_tokens = int(sums.get("input_tokens", 0))
    cached = int(sums.get("cached_tokens", 0))
    written = int(sums.get("cache_write_tokens", 0))
    read_savings = float(sums.get("read_savings_usd", 0.0))
    premium = float(sums.get("write_premium_usd", 0.0))
    net = read_savings - premium
    return {
        "requests": requests,
        "cache_hits": hits,
        "hit_rate": round(hits / requests, 6) if requests else 0.0,
        "saved_usd": round(float(sums.get("saved_usd", 0.0)), 10),
        "cost_usd": round(float(sums.get("cost_usd", 0.0)), 10),
        "input_tokens": input_tokens,
        "cached_tokens": cached,
        "cache_write_tokens": written,
        "prompt_cache_read_share": round(cached / input_tokens, 6) if input_tokens else 0.0,
        "read_savings_usd": round(read_savings, 10),
        "write_premium_usd": round(premium, 10),
        "net_usd": round(net, 10),
        # None: no prefix caching happened, so there is nothing to judge.
        "prefix_caching_pays": (net > 0) if (cached or written) else None,
    }


async def cache_report(
    ledger: UsageSource,
    aliases: Mapping[str, Alias],
    *,
    tenant: str | None = None,
    tenant_id: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> dict[str, Any]:
    """``{"rows": [{tenant, tenant_id, alias, ...economics}], "totals": {...}}`` over
    ``[since, until)``, per tenant id (a deleted tenant's rows are its own, under the
    name it had); ``tenant`` and ``tenant_id`` select as in ``GET /admin/usage``.

    One ledger query per tenant (grouped by alias), plus one for the tenants: an
    admin report, not a request-path query.
    """
    window = {"since": since, "until": until}
    by_tenant = await ledger.ausage(
        tenant=tenant, tenant_id=tenant_id, group_by="tenant", **window
    )
    rows: list[dict[str, Any]] = []
    totals: dict[str, float] = {}
    for owner in by_tenant["groups"]:
        name, owner_id = owner["key"], owner["tenant_id"]
        if name is None or owner_id is None:
            continue  # refused before authentication: nothing cached or cacheable
        usage = await ledger.ausage(tenant_id=owner_id, group_by="alias", **window)
        for group in usage["groups"]:
            alias = aliases.get(group["key"] or "")
            figures = economics(group, alias.pricing if alias is not None else None)
            rows.append({"tenant": name, "tenant_id": owner_id, "alias": group["key"], **figures})
            for field in _SUMMED:
                totals[field] = totals.get(field, 0) + figures[field]
    return {"rows": rows, "totals": _figures(totals)}


_SUMMED = (
    "requests",
    "cache_hits",
    "saved_usd",
    "cost_usd",
    "input_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "read_savings_usd",
    "write_premium_usd",
)
