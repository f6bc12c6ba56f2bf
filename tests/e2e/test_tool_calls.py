"""Tool calls through the gateway with the official SDKs, streamed and not.

Each case runs the same-protocol path and the cross-protocol path: an OpenAI
client served by an Anthropic upstream and the other way round.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sluicegate.gateway import GATEWAY

WEATHER_OPENAI: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]},
    },
}
WEATHER_ANTHROPIC: Any = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]},
}
CALLS = [("call_1", "get_weather", '{"city": "Paris"}'), ("call_2", "get_weather",
                                                          '{"city": "Oslo"}')]


def script_tool_calls(stack, alias: str) -> None:  # type: ignore[no-untyped-def]
    """Make the upstream behind ``alias`` answer with two parallel get_weather calls."""
    if alias == "gpt":
        stack.oai_upstream.reply_with_tool_calls(
            CALLS, usage={"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70})
    else:
        stack.claude_upstream.reply_with_tool_use(
            "get_weather", {"city": "Paris"}, id="call_1",
            more=[("call_2", "get_weather", {"city": "Oslo"})],
            usage={"input_tokens": 50, "output_tokens": 20})


@pytest.mark.parametrize("alias", ["gpt", "claude"])
@pytest.mark.parametrize("stream", [False, True])
async def test_openai_client_gets_parallel_tool_calls(stack, alias: str, stream: bool) -> None:  # type: ignore[no-untyped-def]
    script_tool_calls(stack, alias)
    client = stack.openai()
    request: Any = dict(model=alias, tools=[WEATHER_OPENAI],
                        messages=[{"role": "user", "content": "Weather in Paris and Oslo?"}])
    if stream:
        async with client.chat.completions.stream(**request) as s:
            final = await s.get_final_completion()
    else:
        final = await client.chat.completions.create(**request)
    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    got = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls]
    assert got == [("call_1", "get_weather", {"city": "Paris"}),
                   ("call_2", "get_weather", {"city": "Oslo"})]
    if not stream:
        assert final.usage is not None
        assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (50, 20)


@pytest.mark.parametrize("alias", ["gpt", "claude"])
@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_client_gets_tool_use(stack, alias: str, stream: bool) -> None:  # type: ignore[no-untyped-def]
    script_tool_calls(stack, alias)
    client = stack.anthropic()
    request: Any = dict(model=alias, max_tokens=200, tools=[WEATHER_ANTHROPIC],
                        messages=[{"role": "user", "content": "Weather in Paris and Oslo?"}])
    if stream:
        async with client.messages.stream(**request) as s:
            final = await s.get_final_message()
    else:
        final = await client.messages.create(**request)
    assert final.stop_reason == "tool_use"
    uses = [(b.id, b.name, b.input) for b in final.content if b.type == "tool_use"]
    assert uses == [("call_1", "get_weather", {"city": "Paris"}),
                    ("call_2", "get_weather", {"city": "Oslo"})]
    assert final.usage.output_tokens == 20
    assert final.usage.input_tokens == 50


@pytest.mark.parametrize("alias", ["gpt", "claude"])
async def test_tool_results_reach_the_upstream_in_its_format(stack, alias: str) -> None:  # type: ignore[no-untyped-def]
    """The second turn of a tool loop: the result goes upstream in the upstream's shape."""
    if alias == "gpt":
        stack.oai_upstream.reply_with("It is 18C in Paris.")
    else:
        stack.claude_upstream.reply_with("It is 18C in Paris.")
    client = stack.anthropic()
    answer = await client.messages.create(
        model=alias, max_tokens=100, tools=[WEATHER_ANTHROPIC],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "get_weather",
                 "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C, sunny"}]},
        ],
    )
    assert answer.content[0].text == "It is 18C in Paris."
    if alias == "gpt":
        sent = stack.oai_upstream.last_request.json
        assert sent["messages"][1]["tool_calls"][0]["id"] == "call_1"
        assert json.loads(sent["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {
            "city": "Paris"}
        assert sent["messages"][2] == {"role": "tool", "tool_call_id": "call_1",
                                       "content": "18C, sunny"}
    else:
        sent = stack.claude_upstream.last_request.json
        assert sent["messages"][2]["content"][0]["type"] == "tool_result"
        assert sent["messages"][2]["content"][0]["tool_use_id"] == "call_1"


@pytest.mark.parametrize(("client_kind", "alias"), [("openai", "claude"), ("anthropic", "gpt")])
@pytest.mark.parametrize("stream", [False, True])
async def test_cross_protocol_text_and_usage_reach_the_ledger(  # type: ignore[no-untyped-def]
    stack, client_kind: str, alias: str, stream: bool
) -> None:
    if alias == "gpt":
        stack.oai_upstream.reply_with(
            "Bonjour!", usage={"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14})
    else:
        stack.claude_upstream.reply_with(
            "Bonjour!", usage={"input_tokens": 11, "output_tokens": 3})
    text = ""
    if client_kind == "openai":
        client = stack.openai()
        if stream:
            chunks = await client.chat.completions.create(
                model=alias, messages=[{"role": "user", "content": "Say hello in French"}],
                stream=True, stream_options={"include_usage": True})
            async for chunk in chunks:
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
        else:
            done = await client.chat.completions.create(
                model=alias, messages=[{"role": "user", "content": "Say hello in French"}])
            text = done.choices[0].message.content or ""
    else:
        claude = stack.anthropic()
        request: Any = dict(model=alias, max_tokens=50,
                            messages=[{"role": "user", "content": "Say hello in French"}])
        if stream:
            async with claude.messages.stream(**request) as s:
                text = "".join([t async for t in s.text_stream])
        else:
            text = (await claude.messages.create(**request)).content[0].text
    assert text == "Bonjour!"
    [record] = stack.gateway.app[GATEWAY].ledger.records(limit=1)
    assert (record["input_tokens"], record["output_tokens"], record["estimated"]) == (11, 3, False)
    assert record["protocol"] == client_kind and record["alias"] == alias
    assert record["stream"] is stream and record["status"] == 200
