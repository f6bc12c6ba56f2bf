"""The ``idempotency`` settings, through a running gateway: what an answer may take to be kept."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import KEY, gateway_url

HELLO: Any = [{"role": "user", "content": "hello"}]


def config(upstream: OpenAIUpstream, redis_url: str | None, **idempotency: Any) -> dict[str, Any]:
    return {
        "storage": {"redis_url": redis_url},
        "providers": [{"name": "up", "type": "openai", "base_url": upstream.url, "api_key": "k"}],
        "models": [{"name": "gpt", "targets": [{"provider": "up", "model": "gpt-4o"}]}],
        "tenants": [{"name": "acme", "keys": [{"name": "e2e", "key": KEY}]}],
        "idempotency": idempotency,
    }


async def ask(url: str, key: str, stream: bool) -> int:
    async with aiohttp.ClientSession() as http, http.post(
        f"{url}/v1/chat/completions",
        json={"model": "gpt", "messages": HELLO, "stream": stream},
        headers={"Authorization": f"Bearer {KEY}", "Idempotency-Key": key},
    ) as resp:
        await resp.read()
        return resp.status


async def served_then_run_again(start_gateway: Any, redis_url: str | None, stream: bool) -> None:
    async with OpenAIUpstream() as upstream:
        gateway = await start_gateway(
            config(upstream, redis_url, max_entry_bytes=2_000, max_bytes=10_000))
        url = gateway_url(gateway)

        upstream.reply_with("short")
        assert [await ask(url, "small", stream) for _ in range(2)] == [200, 200]
        assert len(upstream.requests) == 1, "a small answer is kept and replayed"

        upstream.reply_with("long " * 1_000)
        assert [await ask(url, "large", stream) for _ in range(2)] == [200, 200]
        assert len(upstream.requests) == 3, "a large one is not: the retry ran again"


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_an_answer_over_max_entry_bytes_is_served_and_its_retry_runs_again(
    start_gateway: Any, stream: bool
) -> None:
    await served_then_run_again(start_gateway, None, stream)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_the_redis_store_gets_max_entry_bytes_too(
    start_gateway: Any, redis_url: str, stream: bool
) -> None:
    await served_then_run_again(start_gateway, redis_url, stream)
