"""Tenant limits and budgets at the door, alone and across replicas sharing Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from fakes.base import LocalServer
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import KEY, gateway_url
from sluicegate.state.directory import config_tenant_id

HELLO: Any = [{"role": "user", "content": "hello"}]
AUTH = {"Authorization": f"Bearer {KEY}"}


def limited_config(url: str, **limits: Any) -> dict[str, Any]:
    return {
        "providers": [{"name": "up", "type": "openai", "base_url": url, "api_key": "k"}],
        "models": [{"name": "m", "targets": [{"provider": "up", "model": "x"}],
                    "pricing": {"input_per_mtok": 1000.0, "output_per_mtok": 1000.0}}],
        "tenants": [{"name": "acme", "limits": limits,
                     "keys": [{"name": "e2e", "key": KEY}]}],
    }


async def chat(http: aiohttp.ClientSession, url: str, *, headers: dict[str, str] | None = None,
               **extra: Any) -> tuple[int, Any, Any]:
    body = {"model": "m", "messages": HELLO, "max_tokens": 10, **extra}
    async with http.post(f"{url}/v1/chat/completions", headers=headers or AUTH, json=body) as r:
        return r.status, r.headers, await r.json()


async def test_requests_per_minute(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        gw = await start_gateway(limited_config(up.url, rpm=3))
        async with aiohttp.ClientSession() as http:
            answers = [await chat(http, gateway_url(gw)) for _ in range(4)]
    assert [status for status, _, _ in answers] == [200, 200, 200, 429]
    _, headers, body = answers[3]
    assert body["error"]["code"] == "rate_limited"
    assert int(headers["Retry-After"]) >= 1
    first_headers = answers[0][1]
    assert first_headers["x-ratelimit-limit-requests"] == "3"
    assert first_headers["x-ratelimit-remaining-requests"] == "2"
    assert len(up.requests) == 3, "a refused request never reaches the upstream"


async def test_a_spent_budget_stops_the_tenant(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        # Each answer costs (9 in + 12 out) * $1000/M = $0.021; the budget allows two.
        up.reply_with("ok", usage={"prompt_tokens": 9, "completion_tokens": 12,
                                   "total_tokens": 21})
        gw = await start_gateway(limited_config(up.url, budget_usd=0.05, budget_period="day"))
        async with aiohttp.ClientSession() as http:
            statuses = [(await chat(http, gateway_url(gw)))[0] for _ in range(4)]
            _, _, body = await chat(http, gateway_url(gw))
    assert statuses[:2] == [200, 200]
    assert 429 in statuses
    assert body["error"]["code"] == "budget_exceeded"


async def test_concurrency(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        up.delay_first_byte(0.3)
        gw = await start_gateway(limited_config(up.url, max_concurrency=2))
        async with aiohttp.ClientSession() as http:
            answers = await asyncio.gather(*[chat(http, gateway_url(gw)) for _ in range(5)])
            after = await chat(http, gateway_url(gw))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200, 200, 429, 429, 429]
    assert after[0] == 200, "slots are returned when answers end"


async def test_two_replicas_hold_a_shared_limit_exactly(start_gateway, redis_url) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        config = limited_config(up.url, rpm=40)
        config["storage"] = {"redis_url": redis_url}
        replicas = [await start_gateway(dict(config)), await start_gateway(dict(config))]
        urls = [gateway_url(r) for r in replicas]
        async with aiohttp.ClientSession() as http:
            answers = await asyncio.gather(*[chat(http, urls[i % 2]) for i in range(120)])
    admitted = sum(1 for status, _, _ in answers if status == 200)
    print(f"\ntwo replicas, rpm 40, 120 concurrent requests: {admitted} admitted")
    assert 39 <= admitted <= 41


async def test_shadow_mode_logs_refusals_without_enforcing_them(start_gateway, caplog) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        gw = await start_gateway(limited_config(up.url, rpm=2, shadow=True))
        with caplog.at_level("INFO", logger="sluicegate.admission"):
            async with aiohttp.ClientSession() as http:
                statuses = [(await chat(http, gateway_url(gw)))[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 200]
    assert sum("would get rate_limited" in r.message for r in caplog.records) == 2


async def test_a_budget_alert_is_logged_and_posted_once_per_period(start_gateway, caplog) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up, AlertReceiver() as hook:
        up.reply_with("ok", usage={"prompt_tokens": 9, "completion_tokens": 12,
                                   "total_tokens": 21})  # $0.021 an answer
        config = limited_config(up.url, budget_usd=1.0, budget_alert_at=0.05)
        config["admission"] = {"alert_webhook": hook.url}
        gw = await start_gateway(config)
        with caplog.at_level("WARNING", logger="sluicegate.alerts"):
            async with aiohttp.ClientSession() as http:
                for _ in range(5):
                    await chat(http, gateway_url(gw))
            await hook.received.wait()
    alerts = [r.message for r in caplog.records if "budget_alert" in r.message]
    assert len(alerts) == 1
    assert "tenant:acme" in alerts[0]
    assert len(hook.events) == 1
    event = hook.events[0]
    assert event["event"] == "budget_alert" and event["subject"] == "tenant:acme"
    assert event["tenant_id"] == config_tenant_id("acme"), "what the budget is kept under"
    assert event["budget_usd"] == 1.0 and event["spent_usd"] >= 0.05


async def test_a_small_budget_is_shown_to_the_cent_and_below(start_gateway, caplog) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        up.reply_with("ok", usage={"prompt_tokens": 2, "completion_tokens": 2,
                                   "total_tokens": 4})  # $0.004 an answer
        gw = await start_gateway(
            limited_config(up.url, budget_usd=0.008, budget_period="day", budget_alert_at=0.5)
        )
        with caplog.at_level("WARNING", logger="sluicegate.alerts"):
            async with aiohttp.ClientSession() as http:
                status, _, body = await chat(http, gateway_url(gw), max_tokens=1)
    assert status == 200, body
    [alert] = [r.message for r in caplog.records if "budget_alert" in r.message]
    assert "has spent $0.004 of its $0.008 day budget (50%)" in alert


class AlertReceiver(LocalServer):
    """A webhook endpoint that keeps what it is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self.received = asyncio.Event()

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/hook", self._hook)

    @property
    def url(self) -> str:
        return f"{self.origin}/hook"

    async def _hook(self, request: web.Request) -> web.Response:
        self.events.append(await request.json())
        self.received.set()
        return web.Response(status=204)


def two_keys_config(url: str, limits: dict[str, Any]) -> dict[str, Any]:
    config = limited_config(url)
    config["models"].append({"name": "other", "targets": [{"provider": "up", "model": "y"}]})
    config["tenants"][0]["limits"] = limits
    config["tenants"][0]["keys"].append({"name": "bulk", "key": BULK_KEY})
    return config


BULK_KEY = "sk-test-bulk-0000000000"


async def test_a_key_has_its_own_limit_within_its_tenant(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        gw = await start_gateway(two_keys_config(up.url, {"keys": {"bulk": {"rpm": 2}}}))
        bulk = {"Authorization": f"Bearer {BULK_KEY}"}
        async with aiohttp.ClientSession() as http:
            bulk_statuses = [(await chat(http, gateway_url(gw), headers=bulk))[0]
                             for _ in range(3)]
            other_statuses = [(await chat(http, gateway_url(gw)))[0] for _ in range(3)]
    assert bulk_statuses == [200, 200, 429]
    assert other_statuses == [200, 200, 200], "the tenant's other key is not limited"


async def test_a_key_has_its_own_budget(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        up.reply_with("ok", usage={"prompt_tokens": 9, "completion_tokens": 12,
                                   "total_tokens": 21})  # $0.021 an answer
        limits = {"keys": {"bulk": {"budget_usd": 0.05, "budget_period": "day"}}}
        gw = await start_gateway(two_keys_config(up.url, limits))
        bulk = {"Authorization": f"Bearer {BULK_KEY}"}
        async with aiohttp.ClientSession() as http:
            answers = [await chat(http, gateway_url(gw), headers=bulk) for _ in range(4)]
            other = await chat(http, gateway_url(gw))
    assert [a[0] for a in answers][:2] == [200, 200]
    assert answers[-1][0] == 429 and answers[-1][2]["error"]["code"] == "budget_exceeded"
    assert other[0] == 200


async def test_a_tenant_can_be_limited_on_one_alias(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        gw = await start_gateway(two_keys_config(up.url, {"models": {"m": {"rpm": 1}}}))
        async with aiohttp.ClientSession() as http:
            on_m = [(await chat(http, gateway_url(gw)))[0] for _ in range(2)]
            on_other = [(await chat(http, gateway_url(gw), model="other"))[0] for _ in range(2)]
    assert on_m == [200, 429]
    assert on_other == [200, 200]


async def test_budgets_survive_a_redis_restart(start_gateway, redis_url) -> None:  # type: ignore[no-untyped-def]
    import redis.asyncio as aioredis

    from sluicegate.app import GATEWAY

    async with OpenAIUpstream() as up:
        up.reply_with("ok", usage={"prompt_tokens": 9, "completion_tokens": 12,
                                   "total_tokens": 21})  # $0.021 an answer
        config = limited_config(up.url, budget_usd=0.05, budget_period="day")
        config["storage"] = {"redis_url": redis_url}
        gw = await start_gateway(config)
        gateway = gw.app[GATEWAY]
        assert gateway.budget_rebuild is not None
        async with aiohttp.ClientSession() as http:
            assert [(await chat(http, gateway_url(gw)))[0] for _ in range(2)] == [200, 200]
            client = aioredis.from_url(redis_url)
            await client.flushdb()  # Redis restarted without persistence
            await client.aclose()
            assert await gateway.budget_rebuild.check()
            status, _, body = await chat(http, gateway_url(gw))
    assert status == 429 and body["error"]["code"] == "budget_exceeded", (
        "the $0.042 already spent came back from the ledger"
    )
