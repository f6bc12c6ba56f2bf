"""Behaviour signals in the ledger, feedback on answers, and sessions, through the SDKs."""

from __future__ import annotations

from typing import Any

import pytest

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import KEY, Stack, upstream_config
from sluicegate.gateway import GATEWAY

OTHER_KEY = "sk-e2e-other-tenant"
ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
async def stack(start_gateway) -> Any:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        config = upstream_config(oai.url, claude.url)
        config["tenants"].append({"name": "globex", "keys": [{"name": "g", "key": OTHER_KEY}]})
        config["server"] = {"admin_key": "admin-secret"}
        gateway = await start_gateway(config)
        yield Stack(gateway, oai, claude)


async def ask(stack: Stack, text: str = "Hi", *, session: str | None = None) -> Any:
    headers = {} if session is None else {"x-sluicegate-session": session}
    raw = await stack.openai().chat.completions.with_raw_response.create(
        model="gpt", messages=[{"role": "user", "content": text}], extra_headers=headers
    )
    return raw


async def feedback(stack: Stack, body: dict[str, Any], key: str = KEY) -> tuple[int, Any]:
    response = await stack.gateway.post(
        "/v1/feedback", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    return response.status, await response.json()


async def test_each_record_carries_how_the_answer_ended_and_which_model_served_it(
    stack: Stack,
) -> None:
    stack.oai_upstream.reply_with(text="Paris.", model="gpt-4o-2024-11-20", times=1)
    stack.oai_upstream.reply_with(text="I'm sorry, but I can't help with that.", times=1)
    await ask(stack, session="s-1")
    await stack.anthropic().messages.create(
        model="gpt", max_tokens=50, messages=[{"role": "user", "content": "Do the thing"}]
    )
    refused, answered = await stack.ledger_records()
    assert answered["finish_reason"] == "stop" and answered["refusal"] is False
    assert answered["served_model"] == "gpt-4o-2024-11-20"
    assert answered["response_id"] and answered["session"] == "s-1"
    assert refused["refusal"] is True and refused["session"] is None


async def test_a_streamed_answer_cut_at_max_tokens_is_recorded_as_length(stack: Stack) -> None:
    stack.claude_upstream.reply_with(text="A long", stop_reason="max_tokens")
    async with stack.anthropic().messages.stream(
        model="claude", max_tokens=2, messages=[{"role": "user", "content": "Tell me"}]
    ) as stream:
        await stream.get_final_message()
    [record] = await stack.ledger_records()
    assert record["finish_reason"] == "length" and record["stream"] is True


async def test_feedback_is_tied_to_the_request_once_per_id(stack: Stack) -> None:
    raw = await ask(stack)
    request_id = raw.headers["x-request-id"]
    body = {"request_id": request_id, "name": "thumbs", "value": 1, "id": "fb-1",
            "comment": "good", "correction": "Paris, France."}
    status, first = await feedback(stack, body)
    assert status == 201 and first["id"] == "fb-1" and first["value"] == 1
    status, again = await feedback(stack, body)
    assert status == 200 and again == first
    # The answer's own id finds the same request.
    status, by_body_id = await feedback(
        stack, {"request_id": raw.parse().id, "name": "stars", "value": 4.5}
    )
    assert status == 201 and by_body_id["request_id"] == request_id
    status, yes = await feedback(stack, {"request_id": request_id, "name": "ok", "value": True})
    assert status == 201 and yes["value"] is True


async def test_feedback_finds_a_request_by_the_clients_own_request_id(stack: Stack) -> None:
    await stack.openai().chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "Hi"}],
        extra_headers={"x-request-id": "my-trace-77"},
    )
    status, body = await feedback(stack, {"request_id": "my-trace-77", "name": "t", "value": 1})
    assert status == 201 and body["request_id"] == "my-trace-77"
    # A made-up id in the gateway's own form is no row's.
    status, _ = await feedback(stack, {"request_id": "req_0123456789abcdef0", "name": "t",
                                       "value": 1})
    assert status == 404


async def test_feedback_for_an_unknown_or_another_tenants_request_is_404(stack: Stack) -> None:
    raw = await ask(stack)
    mine = raw.headers["x-request-id"]
    status, body = await feedback(stack, {"request_id": mine, "name": "t", "value": 1}, OTHER_KEY)
    assert status == 404 and body["error"]["code"] == "request_not_found"
    status, body = await feedback(stack, {"request_id": "req_nope", "name": "t", "value": 1})
    assert status == 404 and body["error"]["param"] == "request_id"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "t", "value": 1}, "request_id"),
        ({"request_id": "r", "name": "t", "value": [1]}, "value"),
        ({"request_id": "r", "name": "t", "value": {"a": 1}}, "value"),
        ({"request_id": "r", "name": "t", "value": None}, "value"),
        ({"request_id": "r", "name": "", "value": 1}, "name"),
        ({"request_id": "r", "name": "t", "value": 1, "score": 2}, "score"),
        ({"request_id": "r", "name": "t", "value": "x" * 1001}, "value"),
        ({"request_id": 5, "name": "t", "value": 1}, "request_id"),
    ],
)
async def test_feedback_of_the_wrong_shape_is_400_naming_the_field(
    stack: Stack, body: dict[str, Any], param: str
) -> None:
    status, answer = await feedback(stack, body)
    assert status == 400 and answer["error"]["param"] == param


async def test_feedback_needs_a_tenant_key(stack: Stack) -> None:
    response = await stack.gateway.post("/v1/feedback", json={"request_id": "r"})
    assert response.status == 401
    response = await stack.gateway.post(
        "/v1/feedback", data=b"[1]", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert response.status == 400


async def test_sessions_sum_their_requests_and_feedback_per_tenant(stack: Stack) -> None:
    first = await ask(stack, session="chat-42")
    await ask(stack, session="chat-42")
    await ask(stack, session="chat-7")
    await ask(stack)
    await feedback(stack, {"request_id": first.headers["x-request-id"], "name": "thumbs",
                           "value": 0})
    response = await stack.gateway.get("/admin/sessions?tenant=acme", headers=ADMIN)
    sessions = {s["session"]: s for s in (await response.json())["data"]}
    assert set(sessions) == {"chat-42", "chat-7"}
    chat = sessions["chat-42"]
    assert chat["requests"] == 2 and chat["tenant"] == "acme" and chat["errors"] == 0
    assert chat["input_tokens"] > 0 and chat["first_at"] <= chat["last_at"]
    assert chat["feedback"] == {"thumbs": {"n": 1, "mean": 0.0}}
    response = await stack.gateway.get("/admin/sessions?tenant=globex", headers=ADMIN)
    assert (await response.json())["data"] == []


@pytest.mark.parametrize("session", ["", " ", "x" * 129, "caf\u00e9", "a\tb"])
async def test_a_session_id_that_is_not_a_plain_label_is_400(stack: Stack, session: str) -> None:
    response = await stack.gateway.post(
        "/v1/chat/completions",
        json={"model": "gpt", "messages": [{"role": "user", "content": "Hi"}]},
        headers={"Authorization": f"Bearer {KEY}", "x-sluicegate-session": session},
    )
    assert response.status == 400
    assert (await response.json())["error"]["param"] == "x-sluicegate-session"


async def test_alerts_are_listed_once_however_often_they_are_raised(stack: Stack) -> None:
    alerts = stack.gateway.app[GATEWAY].alerts
    assert await alerts.emit_once("gpt|x", "drift", "gpt drifted", alias="gpt", metric="x")
    assert not await alerts.emit_once("gpt|x", "drift", "gpt drifted", alias="gpt", metric="x")
    response = await stack.gateway.get("/admin/alerts?type=drift", headers=ADMIN)
    [alert] = (await response.json())["data"]
    assert alert["type"] == "drift" and alert["alias"] == "gpt" and alert["at"] > 0
    response = await stack.gateway.get("/admin/alerts?type=budget", headers=ADMIN)
    assert (await response.json())["data"] == []
    response = await stack.gateway.get("/admin/alerts?type=nope", headers=ADMIN)
    assert response.status == 400
