"""Request bodies on a served gateway: too large, too slow, and abandoned half-way."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from fakes.timing import NEVER_S
from server.conftest import ServeFactory, chat_body, echo_config, request_head
from sluicegate.server import routes
from sluicegate.server.body import read_body


async def test_a_body_announced_larger_than_the_limit_is_refused_before_it_is_sent(
    serve: ServeFactory,
) -> None:
    served = await serve(echo_config({"max_body_bytes": 1000}))
    conn = await served.connect()
    await conn.send(request_head(length=10_000))  # and no body at all
    response = await conn.response()
    assert response.status == 413
    assert response.json()["error"]["code"] == "request_too_large"


@pytest.mark.parametrize(
    ("path", "error"),
    [("/v1/chat/completions", lambda b: b["error"]["code"] == "request_too_large"),
     ("/v1/messages", lambda b: b["error"]["type"] == "request_too_large")],
)
async def test_expect_100_continue_with_a_body_over_the_limit_gets_413_not_continue(
    serve: ServeFactory, path: str, error: object
) -> None:
    served = await serve(echo_config({"max_body_bytes": 1000}))
    conn = await served.connect()
    await conn.send(request_head(path, length=10_000, headers={"Expect": "100-continue"}))
    response = await conn.response()
    assert response.status == 413, "not 100 Continue: the client must not send the body"
    assert callable(error) and error(response.json())
    assert response.headers["x-request-id"]


async def test_expect_100_continue_within_the_limit_continues(serve: ServeFactory) -> None:
    served = await serve(echo_config({"max_body_bytes": 1000}))
    conn = await served.connect()
    body = chat_body()
    await conn.send(request_head(length=len(body), headers={"Expect": "100-continue"}))
    assert (await conn.response()).status == 100
    await conn.send(body)
    response = await conn.response()
    assert response.status == 200
    assert response.json()["choices"][0]["message"]["content"] == "hi there"


async def test_a_chunked_body_over_the_limit_is_413(serve: ServeFactory) -> None:
    served = await serve(echo_config({"max_body_bytes": 1000}))
    conn = await served.connect()
    chunk = b"x" * 800
    await conn.send(
        request_head(headers={"Transfer-Encoding": "chunked"})
        + (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 2 + b"0\r\n\r\n"
    )
    assert (await conn.response()).status == 413


async def test_a_body_that_arrives_too_slowly_is_408(serve: ServeFactory) -> None:
    served = await serve(echo_config({"body_timeout_s": 0.3}))
    conn = await served.connect()
    body = chat_body()
    await conn.send(request_head(length=len(body)) + body[:10])  # and the rest never comes
    response = await conn.response()
    assert response.status == 408
    assert response.json()["error"]["code"] == "request_timeout"
    assert (await served.record())["status"] == 408


async def test_a_client_that_goes_away_mid_body_is_recorded_as_499_at_info(
    serve: ServeFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading = asyncio.Event()

    async def noted_read_body(*args: Any, **options: Any) -> bytes:
        reading.set()
        return await read_body(*args, **options)

    monkeypatch.setattr(routes, "read_body", noted_read_body)
    served = await serve(echo_config())
    conn = await served.connect()
    body = chat_body()
    with caplog.at_level(logging.INFO):
        await conn.send(request_head(length=len(body)) + body[:10])
        # Gone once the handler reads the body, not before (however late that is).
        await asyncio.wait_for(reading.wait(), NEVER_S)
        conn.close()
        record = await served.record()
    assert (record["status"], record["input_tokens"]) == (499, 0)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert any("while sending its request body" in r.getMessage() for r in caplog.records)
