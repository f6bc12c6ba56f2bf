"""What the connection answers when a handler fails instead of answering."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest

from server.conftest import KEY, ServeFactory, chat_body, echo_config


async def _bug(*args: Any) -> Any:
    raise RuntimeError("a bug below the handler")


@pytest.mark.parametrize(
    ("path", "shape"),
    [("/v1/chat/completions", lambda b: b["error"]["code"] == "internal_error"),
     ("/v1/messages", lambda b: b["type"] == "error" and b["error"]["type"] == "api_error")],
)
async def test_a_handler_that_raises_gets_a_json_500_and_a_logged_traceback(
    serve: ServeFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    path: str,
    shape: object,
) -> None:
    served = await serve(echo_config())
    monkeypatch.setattr(served.gateway, "pipeline", _bug)  # raises past every stage
    async with aiohttp.ClientSession() as http, http.post(
        served.url + path, data=chat_body(max_tokens=5),
        headers={"Authorization": f"Bearer {KEY}", "anthropic-version": "2023-06-01"},
    ) as resp:
        body = await resp.json()
    assert resp.status == 500
    assert callable(shape) and shape(body)
    assert resp.headers["x-request-id"].startswith("req_")
    [logged] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged.exc_info is not None, "a bug is logged with its traceback"
