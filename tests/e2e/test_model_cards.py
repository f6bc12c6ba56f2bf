"""Model cards and drift alerts, from the ledger, through the official SDK."""

from __future__ import annotations

import random
from typing import Any

import pytest

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import Stack, upstream_config
from sluicegate.gateway import GATEWAY

ADMIN = {"Authorization": "Bearer admin-secret"}
BASELINE = 300


@pytest.fixture
async def stack(start_gateway) -> Any:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        config = upstream_config(
            oai.url, claude.url, server={"admin_key": "admin-secret"},
            observability={"drift": {"baseline_requests": BASELINE}},
        )
        yield Stack(await start_gateway(config), oai, claude)


async def serve(stack: Stack, n: int, *, tokens: float, refusals: float, rng: random.Random,
                model: str = "gpt-4o-2024-08-06") -> None:
    client = stack.openai()
    for _ in range(n):
        refused = rng.random() < refusals
        stack.oai_upstream.reply_with(
            text="I'm sorry, but I can't help with that." if refused else "Here you are.",
            usage={"prompt_tokens": 12, "completion_tokens": max(1, int(rng.lognormvariate(
                0, 0.4) * tokens)), "total_tokens": 0},
            model=model,
            times=1,
        )
        await client.chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "Hi"}]
        )


async def card(stack: Stack, **query: str) -> Any:
    response = await stack.gateway.get("/admin/models/gpt/card", params=query, headers=ADMIN)
    assert response.status == 200, await response.text()
    return await response.json() if query.get("format") != "markdown" else await response.text()


async def test_answers_twice_as_long_drift_on_the_card_and_raise_one_alert(stack: Stack) -> None:
    rng = random.Random(7)
    await serve(stack, BASELINE, tokens=100, refusals=0.05, rng=rng)
    await serve(stack, 150, tokens=200, refusals=0.05, rng=rng, model="gpt-4o-2024-11-20")
    found = await card(stack)
    assert found["alias"] == "gpt" and found["targets"] == ["oai/gpt-4o"]
    assert found["baseline"]["requests"] == BASELINE and found["requests"] == 150
    assert found["served_models"] == {"gpt-4o-2024-11-20": 150}
    assert found["baseline"]["served_models"] == {"gpt-4o-2024-08-06": BASELINE}
    assert found["output_tokens"]["mean"] > 1.6 * found["baseline"]["output_tokens"]["mean"]
    assert found["finish_reasons"] == {"stop": 150}
    drift = {d["metric"]: d for d in found["drift"]}
    assert drift["output_tokens"]["alert"] is True and drift["output_tokens"]["direction"] == "up"
    assert drift["output_tokens"]["p_value"] < 0.001
    assert drift["refusal_rate"]["alert"] is False
    assert "contract_valid_rate" not in drift  # the alias has no contract
    monitor = stack.gateway.app[GATEWAY].drift_monitor
    assert monitor is not None
    # Latency is left out: an in-process fake answers in a fraction of a millisecond,
    # which warms up (and so drifts) over a test's few hundred calls.
    # The gateway's own check (every 15 s) may have raised it first on a slow machine.
    raised = [(a, r.metric) for a, r in await monitor.check() if r.metric != "latency_ms"]
    assert raised in ([("gpt", "output_tokens")], [])
    assert await monitor.check() == []  # the same drift is one alert
    response = await stack.gateway.get("/admin/alerts?type=drift", headers=ADMIN)
    [alert] = [a for a in (await response.json())["data"] if a["metric"] != "latency_ms"]
    assert alert["alias"] == "gpt" and alert["metric"] == "output_tokens"
    assert alert["current"] > alert["baseline"]


async def test_steady_traffic_raises_no_drift(stack: Stack) -> None:
    rng = random.Random(11)
    await serve(stack, BASELINE + 300, tokens=100, refusals=0.05, rng=rng)
    found = await card(stack)
    assert [d["metric"] for d in found["drift"] if d["alert"] and d["metric"] != "latency_ms"] == []
    assert found["refusal_rate"] == pytest.approx(0.05, abs=0.05)


async def test_a_baseline_still_filling_is_said_so_not_tested(stack: Stack) -> None:
    await serve(stack, 20, tokens=100, refusals=0.0, rng=random.Random(1))
    found = await card(stack)
    assert "20 of its 300" in found["baseline_note"]
    assert all(d["test"] is None and d["alert"] is False and d["note"] for d in found["drift"])


async def test_the_card_as_markdown_and_a_new_baseline(stack: Stack) -> None:
    await serve(stack, 5, tokens=100, refusals=0.0, rng=random.Random(2))
    text = await card(stack, format="markdown")
    assert text.startswith("# Model card: gpt") and "| refusal rate |" in text
    response = await stack.gateway.post("/admin/models/gpt/baseline", headers=ADMIN)
    reset = await response.json()
    assert response.status == 200 and reset["alias"] == "gpt"
    found = await card(stack)
    assert found["baseline"]["requests"] == 0


async def test_an_unknown_alias_or_a_bad_window_is_refused(stack: Stack) -> None:
    response = await stack.gateway.get("/admin/models/nope/card", headers=ADMIN)
    assert response.status == 404
    response = await stack.gateway.get(
        "/admin/models/gpt/card?since=2026-12-02&until=2026-12-01", headers=ADMIN
    )
    assert response.status == 400
    response = await stack.gateway.get("/admin/models/gpt/card?since=yesterday", headers=ADMIN)
    assert response.status == 400
    response = await stack.gateway.get("/admin/models/gpt/card")
    assert response.status == 401


async def test_the_default_baseline_is_the_week_before_the_last_day(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        config = upstream_config(oai.url, claude.url, server={"admin_key": "admin-secret"})
        stack = Stack(await start_gateway(config), oai, claude)
        await serve(stack, 3, tokens=50, refusals=0.0, rng=random.Random(3))
        found = await card(stack)
        assert found["requests"] == 3 and found["baseline"]["requests"] == 0
        window, baseline = found["window"], found["baseline"]["window"]
        assert window["until"] - window["since"] == pytest.approx(86_400)
        assert baseline["until"] == window["since"]
        assert window["since"] - baseline["since"] == pytest.approx(7 * 86_400)
        assert all(d["alert"] is False for d in found["drift"])
