"""Feedback, sessions, alerts and model cards with two replicas on one PostgreSQL and Redis."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import KEY, Stack, upstream_config
from sluicegate.gateway import GATEWAY

ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
async def replicas(start_gateway, postgres_url: str, redis_url: str) -> Any:  # type: ignore[no-untyped-def]
    """``await replicas(**config)``: two gateways on one PostgreSQL and Redis, in front
    of the same fake upstreams."""
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:

        async def two(**overrides: Any) -> tuple[Stack, Stack]:
            config = upstream_config(
                oai.url, claude.url, server={"admin_key": "admin-secret"},
                storage={"url": postgres_url, "redis_url": redis_url}, **overrides,
            )
            return (Stack(await start_gateway(config), oai, claude),
                    Stack(await start_gateway(config), oai, claude))

        yield two


async def get(stack: Stack, path: str) -> Any:
    response = await stack.gateway.get(path, headers=ADMIN)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_two_replicas_share_feedback_sessions_alerts_and_cards(replicas: Any) -> None:
    a, b = await replicas()
    oai = a.oai_upstream
    oai.reply_with(text="Hi", model="snap-1")
    for stack in (a, b):
        await stack.openai().chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "Hi"}],
            extra_headers={"x-sluicegate-session": "conv-1"},
        )
    oai.reply_with(text="Hi", model="snap-2")
    raw = await a.openai().chat.completions.with_raw_response.create(
        model="gpt", messages=[{"role": "user", "content": "Hi"}],
        extra_headers={"x-sluicegate-session": "conv-1"},
    )
    await b.openai().chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "Hi"}]
    )
    # Feedback on A's answer, sent to B the moment it ended: B finds it.
    response = await b.gateway.post(
        "/v1/feedback",
        json={"request_id": raw.headers["x-request-id"], "name": "thumbs", "value": 1,
              "id": "f1"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status == 201
    again = await a.gateway.post(
        "/v1/feedback", json={"request_id": raw.headers["x-request-id"], "name": "thumbs",
                              "value": 1, "id": "f1"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert again.status == 200
    for stack in (a, b):
        await stack.gateway.app[GATEWAY].services.served_models.close()  # type: ignore[union-attr]
    # Both replicas saw snap-1 become snap-2: one alert.
    for stack in (a, b):
        changed = await get(stack, "/admin/alerts?type=model_changed")
        assert [(x["previous_model"], x["model"]) for x in changed["data"]] == [
            ("snap-1", "snap-2")
        ]
    sessions_a, sessions_b = [await get(s, "/admin/sessions") for s in (a, b)]
    assert sessions_a == sessions_b
    [conv] = sessions_a["data"]
    assert conv["session"] == "conv-1" and conv["requests"] == 3
    assert conv["feedback"] == {"thumbs": {"n": 1, "mean": 1.0}}
    card_a = await get(a, "/admin/models/gpt/card?until=2100-01-01&since=2000-01-01")
    card_b = await get(b, "/admin/models/gpt/card?until=2100-01-01&since=2000-01-01")
    assert card_a == card_b
    assert card_a["requests"] == 4 and card_a["served_models"] == {"snap-1": 2, "snap-2": 2}
    assert card_a["feedback"] == {"thumbs": {"n": 1, "mean": 1.0}}


async def test_a_drift_both_replicas_see_is_one_alert(replicas: Any) -> None:
    import random

    a, b = await replicas(observability={"drift": {"baseline_requests": 300}})
    oai = a.oai_upstream
    rng = random.Random(3)

    async def serve(n: int, tokens: float) -> None:
        for i in range(n):
            oai.reply_with(
                text="Here.", times=1,
                usage={"prompt_tokens": 9, "total_tokens": 0,
                       "completion_tokens": max(1, int(rng.lognormvariate(0, 0.4) * tokens))},
            )
            await (a if i % 2 else b).openai().chat.completions.create(
                model="gpt", messages=[{"role": "user", "content": "Hi"}]
            )

    await serve(300, 100)
    await serve(200, 200)
    for stack in (a, b):
        await stack.gateway.app[GATEWAY].ledger.aflush()
    raised = []
    for stack in (a, b):
        monitor = stack.gateway.app[GATEWAY].drift_monitor
        assert monitor is not None
        raised += [r.metric for _, r in await monitor.check() if r.metric == "output_tokens"]
    # By one replica, not by both (or already by a replica's own check, every 15 s,
    # on a machine slow enough to reach it); the list below holds it once either way.
    assert raised in (["output_tokens"], [])
    for stack in (a, b):
        listed = await get(stack, "/admin/alerts?type=drift")
        assert [x["metric"] for x in listed["data"] if x["metric"] != "latency_ms"] == [
            "output_tokens"
        ]
