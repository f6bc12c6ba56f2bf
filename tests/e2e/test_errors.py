"""Every error status of the contract, as the official SDKs see it.

Each error arrives in the client's own protocol: the SDKs raise their typed
exceptions, which they only do for a well-formed error body.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import KEY, anthropic_client, gateway_url, openai_client, upstream_config

HELLO: Any = [{"role": "user", "content": "hello"}]


async def error_statuses(base_url: str, messages: Any) -> tuple[int, int]:
    """The statuses both SDKs fail with for ``messages``: OpenAI's to ``gpt``, Anthropic's to
    ``claude``."""
    with pytest.raises(openai.APIStatusError) as info:
        await openai_client(base_url).chat.completions.create(model="gpt", messages=messages)
    with pytest.raises(anthropic.APIStatusError) as ainfo:
        await anthropic_client(base_url).messages.create(model="claude", max_tokens=5,
                                                         messages=messages)
    return info.value.status_code, ainfo.value.status_code


async def test_malformed_json_is_400_naming_the_problem(stack) -> None:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http:
        for path in ("/v1/chat/completions", "/v1/messages"):
            async with http.post(f"{stack.url}{path}", data=b'{"model": "gpt", "messages": [',
                                 headers={"Authorization": f"Bearer {KEY}",
                                          "Content-Type": "application/json"}) as resp:
                body = await resp.json()
            assert resp.status == 400
            err = body["error"]
            assert "JSON" in err["message"] or "json" in err["message"]
            if path == "/v1/messages":
                assert body["type"] == "error" and err["type"] == "invalid_request_error"


async def test_invalid_field_names_the_param(stack) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.BadRequestError) as info:
        await stack.openai().chat.completions.create(model="gpt", messages=HELLO,
                                                     temperature="hot")  # type: ignore[arg-type]
    assert info.value.param == "temperature"


async def test_missing_and_unknown_keys_are_401(stack) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.AuthenticationError):
        await stack.openai("sk-not-a-real-key").chat.completions.create(model="gpt",
                                                                         messages=HELLO)
    with pytest.raises(anthropic.AuthenticationError):
        await stack.anthropic("sk-not-a-real-key").messages.create(
            model="claude", max_tokens=5, messages=HELLO)
    async with aiohttp.ClientSession() as http, http.post(
        f"{stack.url}/v1/chat/completions", json={"model": "gpt", "messages": HELLO}
    ) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "missing_api_key"


async def test_body_over_the_limit_is_413(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        gw = await start_gateway(upstream_config(oai.url, claude.url,
                                                 server={"max_body_bytes": 4096}))
        big: Any = [{"role": "user", "content": "x" * 10_000}]
        assert await error_statuses(gateway_url(gw), big) == (413, 413)
        assert oai.requests == [] and claude.requests == []


async def test_upstream_429_reaches_the_client_with_retry_after(stack) -> None:  # type: ignore[no-untyped-def]
    stack.oai_upstream.fail(429, headers={"retry-after": "7"})
    with pytest.raises(openai.RateLimitError) as info:
        await stack.openai().chat.completions.create(model="gpt", messages=HELLO)
    assert info.value.code == "upstream_rate_limited"
    assert info.value.response.headers["retry-after"] == "7"

    stack.claude_upstream.fail(429, headers={"retry-after": "3"})
    with pytest.raises(anthropic.RateLimitError) as ainfo:
        await stack.anthropic().messages.create(model="claude", max_tokens=5, messages=HELLO)
    assert ainfo.value.response.headers["retry-after"] == "3"


@pytest.mark.parametrize("fault", ["500", "invalid_json", "cut_before_first_byte"])
async def test_bad_upstream_answers_are_502(stack, fault: str) -> None:  # type: ignore[no-untyped-def]
    if fault == "500":
        stack.oai_upstream.fail(500)
    elif fault == "invalid_json":
        stack.oai_upstream.invalid_json()
    else:
        stack.oai_upstream.cut_stream_after(0, abort=True)
    stream = fault == "cut_before_first_byte"
    with pytest.raises(openai.APIStatusError) as info:
        result = await stack.openai().chat.completions.create(model="gpt", messages=HELLO,
                                                              stream=stream)
        if stream:
            async for _ in result:  # type: ignore[union-attr]
                pass
    assert info.value.status_code == 502


async def test_unreachable_upstream_is_503(start_gateway, refused_port: int) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{refused_port}/v1"
    gw = await start_gateway(upstream_config(dead, dead))
    assert await error_statuses(gateway_url(gw), HELLO) == (503, 503)


async def test_slow_first_token_is_504(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        config = upstream_config(oai.url, claude.url)
        for provider in config["providers"]:
            provider["first_token_timeout_s"] = 0.2
        gw = await start_gateway(config)
        base = gateway_url(gw)
        oai.delay_first_byte(2)
        client = openai_client(base)
        with pytest.raises(openai.APIStatusError) as info:
            await client.chat.completions.create(model="gpt", messages=HELLO, stream=True)
        assert info.value.status_code == 504
        claude.delay_first_byte(2)
        ant = anthropic_client(base)
        with pytest.raises(anthropic.APIStatusError) as ainfo:
            await ant.messages.create(model="claude", max_tokens=5, messages=HELLO)
        assert ainfo.value.status_code == 504


@pytest.mark.parametrize("abort", [False, True])
async def test_a_stream_cut_midway_is_an_error_in_both_sdks(stack, abort: bool) -> None:  # type: ignore[no-untyped-def]
    stack.oai_upstream.reply_with("one two three four five six")
    stack.oai_upstream.cut_stream_after(2, abort=abort)
    stream = await stack.openai().chat.completions.create(model="gpt", messages=HELLO,
                                                          stream=True)
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass

    stack.claude_upstream.reply_with("one two three four five six")
    stack.claude_upstream.cut_stream_after(3, abort=abort)
    with pytest.raises(anthropic.APIError):
        async with stack.anthropic().messages.stream(model="claude", max_tokens=50,
                                                     messages=HELLO) as s:
            async for _ in s.text_stream:
                pass
