"""A provider moving a target to a new model snapshot raises one model_changed alert."""

from __future__ import annotations

import asyncio
from typing import Any

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import Stack, upstream_config
from sluicegate.gateway import GATEWAY

ADMIN = {"Authorization": "Bearer admin-secret"}


async def alerts(stack: Stack) -> list[dict[str, Any]]:
    await stack.gateway.app[GATEWAY].services.served_models.close()  # type: ignore[union-attr]
    response = await stack.gateway.get("/admin/alerts?type=model_changed", headers=ADMIN)
    return list((await response.json())["data"])


async def chat(stack: Stack, times: int) -> None:
    client = stack.openai()
    for _ in range(times):
        await client.chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "Hi"}]
        )


async def test_a_new_served_model_raises_one_alert_naming_both(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        config = upstream_config(oai.url, claude.url, server={"admin_key": "admin-secret"})
        stack = Stack(await start_gateway(config), oai, claude)
        oai.reply_with(text="Hi", model="gpt-4o-2024-08-06")
        await chat(stack, 3)
        assert await alerts(stack) == []  # the first model seen is no change
        oai.reply_with(text="Hi", model="gpt-4o-2024-11-20")
        await chat(stack, 5)
        [alert] = await alerts(stack)
        assert alert["target"] == "oai/gpt-4o" and alert["alias"] == "gpt"
        assert alert["previous_model"] == "gpt-4o-2024-08-06"
        assert alert["model"] == "gpt-4o-2024-11-20"
        metrics = await (await stack.gateway.get("/metrics")).text()
        assert 'sluicegate_alerts_total{type="model_changed"} 1.0' in metrics


async def test_a_gateway_started_after_the_change_still_sees_it(start_gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path}/shared.db"
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        config = upstream_config(
            oai.url, claude.url, server={"admin_key": "admin-secret"}, storage={"url": db}
        )
        first = Stack(await start_gateway(config), oai, claude)
        oai.reply_with(text="Hi", model="snapshot-a")
        await chat(first, 1)
        await first.gateway.close()
        await asyncio.sleep(0)
        second = Stack(await start_gateway(config), oai, claude)
        oai.reply_with(text="Hi", model="snapshot-b")
        await chat(second, 1)
        [alert] = await alerts(second)
        assert (alert["previous_model"], alert["model"]) == ("snapshot-a", "snapshot-b")
