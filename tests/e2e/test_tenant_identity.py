"""A tenant deleted and created again under its name is a new tenant.

It inherits none of the first one's cached answers, Idempotency-Key answers,
budget spend or usage, wherever those are kept: SQLite or PostgreSQL for the
directory and the ledger, the gateway's memory or Redis for the cache, the
idempotency store and the limits. The first one's usage stays reachable by its id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import Gateway

ADMIN = {"Authorization": "Bearer sk-e2e-admin-key"}
HELLO = [{"role": "user", "content": "Say hello"}]
# Every answer is 1000 tokens in and 1000 out: $0.0125 at gpt's prices.
USAGE = {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000}
COST = 0.0125
# Two answers leave $0.005 of it: less than an answer of up to 1000 tokens reserves ($0.01).
LIMITS = {"budget_usd": 0.03, "budget_period": "month"}

# (database, whether the cache, idempotency store and limiter are in Redis)
SETUPS = [("sqlite", False), ("sqlite", True), ("postgres", False), ("postgres", True)]


@pytest.fixture(params=SETUPS, ids=[f"{db}-{'redis' if r else 'memory'}" for db, r in SETUPS])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    database, shared = request.param
    storage: dict[str, Any] = {"spool_dir": str(tmp_path / "spool")}
    if database == "postgres":
        storage["url"] = request.getfixturevalue("postgres_url")
    if shared:
        storage["redis_url"] = request.getfixturevalue("redis_url")
    return storage


@pytest.fixture
async def gateway(
    storage: dict[str, Any], start_gateway: Any
) -> AsyncIterator[tuple[Gateway, OpenAIUpstream]]:
    async with OpenAIUpstream() as upstream:
        config = {
            "server": {"admin_key": "sk-e2e-admin-key"},
            "storage": storage,
            "providers": [{"name": "oai", "type": "openai", "base_url": upstream.url,
                           "api_key": "sk-upstream"}],
            "models": [{"name": "gpt", "targets": [{"provider": "oai", "model": "gpt-4o"}],
                        "pricing": {"input_per_mtok": 2.5, "output_per_mtok": 10.0}}],
        }
        upstream.reply_with("an answer", usage=USAGE)
        yield await start_gateway(config), upstream


async def admin(gw: Gateway, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
    async with gw.request(method, path, headers=ADMIN, **kwargs) as resp:
        body = await resp.json()
        assert resp.status == status, body
        return body


async def create_tenant(gw: Gateway) -> tuple[dict[str, Any], str]:
    """Tenant acme with its budget, and a new key of it."""
    tenant = await admin(gw, "POST", "/admin/tenants", 201, json={"name": "acme",
                                                                   "limits": LIMITS})
    key = await admin(gw, "POST", "/admin/tenants/acme/keys", 201, json={"name": "app"})
    return tenant, key["key"]


async def chat(
    gw: Gateway, key: str, *, temperature: float, idempotency_key: str | None = None,
    max_tokens: int = 16,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Temperature 0 is cached; a sampled answer is not."""
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    body = {"model": "gpt", "messages": HELLO, "temperature": temperature,
            "max_tokens": max_tokens}
    async with gw.post("/v1/chat/completions", json=body, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.json()


async def usage(gw: Gateway, **params: str) -> dict[str, Any]:
    answer: dict[str, Any] = await admin(gw, "GET", "/admin/usage", params=params)
    return answer


async def test_a_tenant_created_again_under_a_deleted_ones_name_starts_afresh(
    gateway: tuple[Gateway, OpenAIUpstream],
) -> None:
    gw, upstream = gateway
    first, key = await create_tenant(gw)
    # A cached answer, an Idempotency-Key answer, and $0.025 of the $0.03 budget spent.
    assert (await chat(gw, key, temperature=0))[1]["x-sluicegate-cache"] == "miss"
    assert (await chat(gw, key, temperature=0.7, idempotency_key="order-1"))[0] == 200
    assert (await chat(gw, key, temperature=0))[1]["x-sluicegate-cache"] == "hit"
    replay = await chat(gw, key, temperature=0.7, idempotency_key="order-1")
    assert replay[1].get("x-sluicegate-idempotent-replay") == "true"
    status, _, refused = await chat(gw, key, temperature=0.7, max_tokens=1000)
    assert (status, refused["error"]["code"]) == (429, "budget_exceeded")
    assert len(upstream.requests) == 2
    deleted = await admin(gw, "DELETE", "/admin/tenants/acme")
    assert deleted == {"name": "acme", "id": first["id"], "deleted": True}

    second, new_key = await create_tenant(gw)
    assert second["id"] != first["id"]
    assert (await usage(gw, tenant="acme"))["totals"]["requests"] == 0, "no usage of its own"
    status, _, body = await chat(gw, new_key, temperature=0.7, max_tokens=1000)
    assert status == 200, f"the budget is whole: {body}"
    _, headers, _ = await chat(gw, new_key, temperature=0)
    assert headers["x-sluicegate-cache"] == "miss", "not the deleted tenant's cached answer"
    _, headers, _ = await chat(gw, new_key, temperature=0.7, idempotency_key="order-1")
    assert "x-sluicegate-idempotent-replay" not in headers, "nor its Idempotency-Key answer"
    assert len(upstream.requests) == 5

    now = (await usage(gw, tenant="acme"))["totals"]
    assert (now["requests"], now["cost_usd"]) == (3, pytest.approx(3 * COST))
    # The deleted tenant's history is its own, under its id.
    before = (await usage(gw, tenant_id=first["id"]))["totals"]
    assert (before["requests"], before["cost_usd"]) == (5, pytest.approx(2 * COST))
    assert (before["cache_hits"], before["errors"]) == (1, 1)
    groups = (await usage(gw, group_by="tenant"))["groups"]
    assert sorted((g["key"], g["tenant_id"], g["requests"]) for g in groups) == sorted(
        [("acme", first["id"], 5), ("acme", second["id"], 3)]
    )
    listed = (await admin(gw, "GET", "/admin/requests", params={"tenant": "acme"}))["data"]
    assert {r["tenant_id"] for r in listed} == {second["id"]} and len(listed) == 3
    old = await admin(gw, "GET", "/admin/requests", params={"tenant_id": first["id"]})
    assert len(old["data"]) == 5
    report = await admin(gw, "GET", "/admin/cache/report", params={"tenant": "acme"})
    assert [(r["tenant_id"], r["cache_hits"]) for r in report["rows"]] == [(second["id"], 0)]
