"""The gateway on the built-in echo provider, driven with plain HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from sluicegate.gateway import GATEWAY

ECHO_CONFIG: dict[str, Any] = {
    "providers": [{"name": "echo", "type": "echo"}],
    "models": [
        {
            "name": "echo",
            "targets": [{"provider": "echo", "model": "echo-1"}],
            "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
        }
    ],
    "tenants": [{"name": "acme", "keys": [{"name": "ci", "key": "sk-acme-test-key"}]}],
}
AUTH = {"Authorization": "Bearer sk-acme-test-key"}


@pytest.fixture
async def client(start_gateway):  # type: ignore[no-untyped-def]
    return await start_gateway(ECHO_CONFIG)


async def test_chat_answers_with_echo_and_headers(client) -> None:  # type: ignore[no-untyped-def]
    resp = await client.post(
        "/v1/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": "hello there"}]},
        headers={**AUTH, "x-request-id": "my-req-1"},
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["choices"][0]["message"]["content"] == "hello there"
    assert resp.headers["x-request-id"] == "my-req-1"
    assert resp.headers["x-sluicegate-target"] == "echo/echo-1"


async def test_every_response_has_a_request_id(client) -> None:  # type: ignore[no-untyped-def]
    for method, path in [("GET", "/healthz"), ("GET", "/nope"), ("POST", "/v1/chat/completions")]:
        resp = await client.request(method, path)
        assert resp.headers.get("x-request-id"), (method, path)


async def test_ledger_records_success_and_failure(client) -> None:  # type: ignore[no-untyped-def]
    await client.post(
        "/v1/chat/completions",
        json={"model": "echo", "messages": [{"role": "user", "content": "one two three four"}]},
        headers={**AUTH, "x-sluicegate-tags": "team:search, batch"},
    )
    await client.post("/v1/chat/completions", json={"model": "echo", "messages": []}, headers=AUTH)
    records = client.app[GATEWAY].ledger.records(limit=10)
    assert [r["status"] for r in records] == [400, 200]
    ok = records[1]
    assert ok["tenant"] == "acme" and ok["key_name"] == "ci" and ok["alias"] == "echo"
    assert ok["target"] == "echo/echo-1"
    assert ok["tags"] == ["batch", "team:search"]
    assert ok["input_tokens"] > 0 and ok["output_tokens"] > 0 and ok["estimated"]
    expected = (ok["input_tokens"] * 1.0 + ok["output_tokens"] * 2.0) / 1e6
    assert ok["cost_usd"] == pytest.approx(expected)
    assert ok["latency_ms"] > 0 and ok["ttft_ms"] is not None


async def test_unknown_paths_and_methods_get_json_errors(client) -> None:  # type: ignore[no-untyped-def]
    missing = await client.get("/v1/nothing-here")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"
    wrong_method = await client.get("/v1/chat/completions")
    assert wrong_method.status == 405
    assert (await wrong_method.json())["error"]["code"] == "method_not_allowed"
    anthropic_path = await client.get("/v1/messages")
    assert (await anthropic_path.json())["type"] == "error"
