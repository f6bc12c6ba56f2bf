"""Health, readiness, metrics and usage accounting, as an operator sees them."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from sluicegate.gateway import GATEWAY

KEY = "sk-e2e-tenant-key"
HELLO: Any = [{"role": "user", "content": "hello"}]

# An OpenAI-compatible server that ignores stream_options.include_usage: a
# stream with content and a finish reason, and no usage chunk at all.
STREAM_WITHOUT_USAGE = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hello there, friend"},'
    b'"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


async def test_health_and_readiness(stack) -> None:  # type: ignore[no-untyped-def]
    health = await stack.gateway.get("/healthz")
    assert health.status == 200
    ready = await stack.gateway.get("/readyz")
    body = await ready.json()
    assert ready.status == 200 and body["checks"]["storage"] == "ok"


async def test_metrics_count_requests_and_tokens(stack) -> None:  # type: ignore[no-untyped-def]
    stack.oai_upstream.reply_with(
        "hi", usage={"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9})
    await stack.openai().chat.completions.create(model="gpt", messages=HELLO)
    text = await (await stack.gateway.get("/metrics")).text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    ok = ("sluicegate_requests_total", (("alias", "gpt"), ("status", "200"),
                                        ("target", "oai/gpt-4o"), ("tenant", "acme")))
    assert samples[ok] == 1
    tokens = ("sluicegate_tokens_total", (("alias", "gpt"), ("tenant", "acme"), ("type", "input")))
    assert samples[tokens] == 7


async def test_a_stream_without_upstream_usage_is_counted_locally_and_marked(stack) -> None:  # type: ignore[no-untyped-def]
    stack.oai_upstream.reply_raw(STREAM_WITHOUT_USAGE, content_type="text/event-stream")
    stream = await stack.openai().chat.completions.create(model="gpt", messages=HELLO,
                                                          stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Hello there, friend"
    sent = stack.oai_upstream.last_request.json
    assert sent["stream_options"] == {"include_usage": True}, "the gateway asks for usage"
    [record] = stack.gateway.app[GATEWAY].ledger.records(limit=1)
    assert record["estimated"] is True
    assert record["output_tokens"] == (len("Hello there, friend") + 3) // 4
    assert record["input_tokens"] > 0 and record["cost_usd"] > 0


async def test_a_bug_is_a_recorded_500_in_the_clients_protocol(stack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    gateway = stack.gateway.app[GATEWAY]
    provider = gateway.runtime.providers["oai"]

    def broken(request, model):  # type: ignore[no-untyped-def]
        raise KeyError("a bug")

    monkeypatch.setattr(provider, "chat", broken)
    resp = await stack.gateway.post(
        "/v1/chat/completions", json={"model": "gpt", "messages": HELLO},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    body = await resp.json()
    assert resp.status == 500
    assert body["error"]["code"] == "internal_error" and "a bug" not in body["error"]["message"]
    [record] = gateway.ledger.records(limit=1)
    assert (record["status"], record["error_code"]) == (500, "internal_error")
    assert gateway.metrics.in_flight == 0


async def test_latency_histograms_and_in_flight_gauge(stack) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        await stack.openai().chat.completions.create(model="gpt", messages=HELLO)
    text = await (await stack.gateway.get("/metrics")).text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    genai = (("gen_ai_operation_name", "chat"), ("gen_ai_provider_name", "openai"),
             ("gen_ai_request_model", "gpt"))
    answered = (("error_type", ""), *genai)
    assert samples[("gen_ai_server_request_duration_seconds_count", answered)] == 3
    assert samples[("gen_ai_server_request_duration_seconds_bucket",
                    (*answered, ("le", "+Inf")))] == 3
    assert samples[("gen_ai_server_time_to_first_token_seconds_count", genai)] == 3
    assert samples[("sluicegate_requests_in_flight", ())] == 0


async def test_an_answer_never_read_is_still_recorded_and_its_limits_released(
    start_gateway,
) -> None:  # type: ignore[no-untyped-def]
    """A client that vanishes before egress reads a byte still leaves a ledger record."""
    from sluicegate.pipeline import Request
    from sluicegate.protocols.openai.chat_request import decode_chat_request

    client = await start_gateway({
        "providers": [{"name": "e", "type": "echo"}],
        "models": [{"name": "echo", "targets": [{"provider": "e", "model": "x"}]}],
        "tenants": [{"name": "acme", "limits": {"max_concurrency": 1},
                     "keys": [{"name": "k", "key": KEY}]}],
    })
    gateway = client.app[GATEWAY]
    body = b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}]}'

    async def read() -> bytes:
        return body

    request = Request.start(id="never-read", request_id="r1", protocol="openai",
                            operation="chat", headers={"authorization": f"Bearer {KEY}"},
                            runtime=gateway.runtime, receive=read,
                            decode_body=decode_chat_request)
    events = await gateway.pipeline(request)
    await events.aclose()  # egress gave up before the first event
    [record] = gateway.ledger.records(limit=1)
    assert (record["id"], record["status"]) == ("never-read", 499)
    resp = await client.post("/v1/chat/completions", data=body,
                             headers={"Authorization": f"Bearer {KEY}"})
    assert resp.status == 200, "the concurrency slot was given back"


async def test_every_upstream_attempt_is_counted_and_every_failure_logged(
    start_gateway, caplog,
) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as free:  # a port nothing listens on: the connection is refused
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    client = await start_gateway({
        "providers": [{"name": "down", "type": "openai", "base_url": f"http://127.0.0.1:{port}/v1"},
                      {"name": "e", "type": "echo"}],
        "models": [{"name": "m", "targets": [{"provider": "down", "model": "x"}],
                    "fallbacks": ["spare"]},
                   {"name": "spare", "targets": [{"provider": "e", "model": "y"}]}],
        "tenants": [{"name": "acme", "keys": [{"name": "k", "key": KEY}]}],
    })
    with caplog.at_level(logging.WARNING, logger="sluicegate.upstream"):
        resp = await client.post("/v1/chat/completions", json={"model": "m", "messages": HELLO},
                                 headers={"Authorization": f"Bearer {KEY}",
                                          "x-request-id": "req-failover-1"})
    assert resp.status == 200 and resp.headers["x-sluicegate-target"] == "e/y"
    [line] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "down/x" in line.message and "upstream_unreachable" in line.message
    assert "req-failover-1" in line.message
    text = await (await client.get("/metrics")).text()
    attempts = {
        (s.labels["target"], s.labels["result"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "sluicegate_upstream_attempts_total"
    }
    assert attempts == {("down/x", "upstream_unreachable"): 1, ("e/y", "ok"): 1}


def _echo_config(server: dict[str, Any]) -> dict[str, Any]:
    return {
        "server": {"admin_key": "admin-secret-key", **server},
        "providers": [{"name": "e", "type": "echo"}],
        "models": [{"name": "echo", "targets": [{"provider": "e", "model": "x"}]}],
        "tenants": [{"name": "acme", "keys": [{"name": "k", "key": KEY}]}],
    }


async def test_metrics_with_a_token_answer_only_the_scraper_that_sends_it(
    start_gateway,
) -> None:  # type: ignore[no-untyped-def]
    client = await start_gateway(_echo_config({"metrics_token": "scrape-token-123"}))
    assert (await client.get("/metrics")).status == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    scraped = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"})
    assert scraped.status == 200 and "sluicegate_requests" in await scraped.text()
    admin = await client.get("/metrics", headers={"Authorization": "Bearer admin-secret-key"})
    assert admin.status == 200


async def test_readyz_shows_its_details_to_the_operator_only(
    start_gateway,
) -> None:  # type: ignore[no-untyped-def]
    client = await start_gateway(_echo_config({}))
    public = await (await client.get("/readyz")).json()
    assert public == {"status": "ready", "checks": {"storage": "ok"}}
    operator = await (await client.get(
        "/readyz", headers={"Authorization": "Bearer admin-secret-key"})).json()
    assert operator["targets"] == {"e/x": "closed"}


async def test_a_served_request_leaves_nothing_for_the_cycle_collector(stack) -> None:  # type: ignore[no-untyped-def]
    # The collector runs rarely (serve raises its threshold): every object a request
    # leaves in a reference cycle is memory held and a pause later, on every request.
    import gc

    client = stack.openai()
    await client.chat.completions.create(model="gpt", messages=HELLO)  # warm: lazy imports
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await client.chat.completions.create(model="gpt", messages=HELLO)
        stream = await client.chat.completions.create(model="gpt", messages=HELLO, stream=True)
        async for _ in stream:
            pass
        gc.collect()
        ours = (o for o in gc.garbage if type(o).__module__.startswith("sluicegate"))
        left = {type(o).__qualname__ for o in ours}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == set()
