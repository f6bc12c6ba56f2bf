"""Tenant limits and budgets at the door, alone and across replicas sharing Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import KEY, gateway_url

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


async def chat(http: aiohttp.ClientSession, url: str, **extra: Any) -> tuple[int, Any, Any]:
    async with http.post(f"{url}/v1/chat/completions", headers=AUTH,
                         json={"model": "m", "messages": HELLO, "max_tokens": 10, **extra}) as r:
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


async def test_a_budget_alert_is_logged_once_per_period(start_gateway, caplog) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as up:
        up.reply_with("ok", usage={"prompt_tokens": 9, "completion_tokens": 12,
                                   "total_tokens": 21})  # $0.021 an answer
        gw = await start_gateway(limited_config(up.url, budget_usd=1.0, budget_alert_at=0.05))
        with caplog.at_level("WARNING", logger="sluicegate.admission"):
            async with aiohttp.ClientSession() as http:
                for _ in range(5):
                    await chat(http, gateway_url(gw))
    alerts = [r.message for r in caplog.records if "budget alert" in r.message]
    assert len(alerts) == 1
    assert "tenant acme" in alerts[0]
