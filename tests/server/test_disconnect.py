"""A client that goes away while its upstream call is in flight: the call is cancelled,
not completed and charged for an answer nobody reads."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from fakes.openai_upstream import OpenAIUpstream
from server.conftest import KEY, ServeFactory, chat_body, echo_config, request_head


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


async def test_a_client_that_leaves_mid_stream_is_a_499_logged_without_an_error(
    serve: ServeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    served = await serve(echo_config())
    conn = await served.connect()
    words = " ".join(f"w{i}" for i in range(100_000))  # streamed back a word an event
    body = chat_body(stream=True, messages=[{"role": "user", "content": words}])
    await conn.send(request_head(length=len(body)) + body)
    await conn.reader.readuntil(b"data: ")  # the stream has started
    conn.close()
    record = await served.record()
    assert record["status"] == 499
    assert record["output_tokens"] > 0, "what was streamed before the client left is counted"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
