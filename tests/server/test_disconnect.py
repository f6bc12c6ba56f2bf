"""A client that goes away while its upstream call is in flight: the call is cancelled,
not completed and charged for an answer nobody reads."""

from __future__ import annotations

import asyncio
import time

import pytest

from fakes.openai_upstream import OpenAIUpstream
from server.conftest import KEY, ServeFactory, chat_body, request_head


@pytest.mark.parametrize("stream", [False, True], ids=["non-streamed", "streamed"])
async def test_the_upstream_call_is_cancelled_and_recorded_as_499_with_nothing_used(
    serve: ServeFactory, stream: bool
) -> None:
    async with OpenAIUpstream() as upstream:
        upstream.delay_first_byte(4.0)  # the upstream would answer only after 4 s
        served = await serve({
            "providers": [{"name": "oai", "type": "openai", "base_url": upstream.url,
                           "api_key": "sk-upstream"}],
            "models": [{"name": "echo", "targets": [{"provider": "oai", "model": "gpt-4o"}],
                        "pricing": {"input_per_mtok": 2.5, "output_per_mtok": 10.0}}],
            "tenants": [{"name": "acme", "keys": [{"name": "k", "key": KEY}]}],
        })
        conn = await served.connect()
        body = chat_body(stream=stream)
        await conn.send(request_head(length=len(body)) + body)
        deadline = time.monotonic() + 5
        while not upstream.requests:  # the call is in flight
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        conn.close()

        record = await served.record(timeout=3)  # well before the upstream answers
        assert record["status"] == 499
        assert (record["input_tokens"], record["output_tokens"], record["cost_usd"]) == (0, 0, 0)
        assert served.gateway.metrics.in_flight == 0
