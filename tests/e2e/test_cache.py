"""The response cache, end to end: official SDKs against a gateway in front of fake upstreams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import KEY, Gateway, Stack, anthropic_client, gateway_url
from sluicegate.cli import main as cli
from sluicegate.config.loader import validate_config
from sluicegate.gateway import GATEWAY
from sluicegate.state.directory import config_tenant_id

OTHER_KEY = "sk-e2e-globex-key"
ADMIN_KEY = "sk-e2e-admin-key"
HELLO: Any = [{"role": "user", "content": "Say hello"}]


def cache_config(oai_url: str, claude_url: str, **overrides: Any) -> dict[str, Any]:
    """``gpt`` and ``claude`` (mode auto, per tenant); ``gpt-shared`` (scope shared) and
    ``gpt-always`` (mode always) on the same OpenAI deployment; two tenants."""
    gpt_target = [{"provider": "oai", "model": "gpt-4o-2024-08-06"}]
    pricing = {"input_per_mtok": 2.5, "output_per_mtok": 10.0}
    config: dict[str, Any] = {
        "server": {"admin_key": ADMIN_KEY},
        "providers": [
            {"name": "oai", "type": "openai", "base_url": oai_url, "api_key": "sk-upstream"},
            {"name": "ant", "type": "anthropic", "base_url": claude_url, "api_key": "sk-ant"},
        ],
        "models": [
            {"name": "gpt", "targets": gpt_target, "pricing": pricing},
            {"name": "gpt-shared", "targets": gpt_target, "pricing": pricing,
             "cache": {"scope": "shared"}},
            {"name": "gpt-always", "targets": gpt_target, "pricing": pricing,
             "cache": {"mode": "always", "ttl_s": 600}},
            {"name": "gpt-off", "targets": gpt_target, "pricing": pricing,
             "cache": {"mode": "off"}},
            {"name": "claude", "targets": [{"provider": "ant", "model": "claude-sonnet-4-5"}],
             "pricing": {"input_per_mtok": 3.0, "output_per_mtok": 15.0}},
            {"name": "embed", "targets": [{"provider": "oai", "model": "text-embedding-3-small"}],
             "pricing": {"input_per_mtok": 0.02}},
        ],
        "tenants": [
            {"name": "acme", "keys": [{"name": "e2e", "key": KEY}]},
            {"name": "globex", "keys": [{"name": "e2e", "key": OTHER_KEY}]},
        ],
    }
    config.update(overrides)
    return config


@pytest.fixture
async def stack(start_gateway) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        gateway = await start_gateway(cache_config(oai.url, claude.url))
        yield Stack(gateway, oai, claude)


async def ask(stack: Stack, *, key: str = KEY, model: str = "gpt",
              headers: dict[str, str] | None = None, **params: Any) -> tuple[str, dict[str, str]]:
    """One non-streamed OpenAI SDK call: the answer's text and the response headers
    (temperature 0 unless given; None leaves it out)."""
    params.setdefault("temperature", 0)
    if params["temperature"] is None:
        del params["temperature"]
    raw = await stack.openai(key).chat.completions.with_raw_response.create(
        model=model, messages=params.pop("messages", HELLO), extra_headers=headers, **params)
    completion = raw.parse()
    return completion.choices[0].message.content or "", dict(raw.headers)


def records(gateway: Gateway) -> list[dict[str, Any]]:
    """Ledger records, oldest first."""
    return list(reversed(gateway.app[GATEWAY].ledger.records(limit=100)))


# -- hits and misses ------------------------------------------------------------


async def test_a_repeated_temperature_zero_request_is_answered_from_the_cache(stack) -> None:  # type: ignore[no-untyped-def]
    stack.oai_upstream.reply_with("Hello there!")
    first, first_headers = await ask(stack)
    stack.oai_upstream.reply_with("a different answer: the upstream was called again")
    second, second_headers = await ask(stack)

    assert len(stack.oai_upstream.requests) == 1
    assert first == second == "Hello there!"
    assert first_headers["x-sluicegate-cache"] == "miss" and "age" not in first_headers
    assert second_headers["x-sluicegate-cache"] == "hit"
    assert second_headers["age"] == "0"
    assert second_headers["x-sluicegate-target"] == "oai/gpt-4o-2024-08-06"


async def test_only_requests_that_ask_or_are_repeatable_are_cached_by_default(stack) -> None:  # type: ignore[no-untyped-def]
    # No temperature and no Cache-Control: a sampled answer, never cached in auto mode.
    client = stack.openai()
    for _ in range(2):
        raw = await client.chat.completions.with_raw_response.create(model="gpt", messages=HELLO)
        assert "x-sluicegate-cache" not in raw.headers
    assert len(stack.oai_upstream.requests) == 2
    # Cache-Control: max-age opts the same request in.
    await ask(stack, temperature=0.7, headers={"Cache-Control": "max-age=60"})
    _, headers = await ask(stack, temperature=0.7, headers={"Cache-Control": "max-age=60"})
    assert headers["x-sluicegate-cache"] == "hit"
    # mode: always caches a sampled request; mode: off never caches even temperature 0.
    await ask(stack, model="gpt-always", temperature=1.2)
    _, headers = await ask(stack, model="gpt-always", temperature=1.2)
    assert headers["x-sluicegate-cache"] == "hit"
    await ask(stack, model="gpt-off")
    _, headers = await ask(stack, model="gpt-off", headers={"Cache-Control": "max-age=60"})
    assert "x-sluicegate-cache" not in headers
    assert len(stack.oai_upstream.requests) == 2 + 1 + 1 + 2


async def test_cache_control_no_cache_refreshes_and_no_store_keeps_out(stack) -> None:  # type: ignore[no-untyped-def]
    stack.oai_upstream.reply_with("first")
    await ask(stack)
    stack.oai_upstream.reply_with("second")
    refreshed, headers = await ask(stack, headers={"Cache-Control": "no-cache"})
    assert (refreshed, headers["x-sluicegate-cache"]) == ("second", "miss")
    served, headers = await ask(stack)
    assert (served, headers["x-sluicegate-cache"]) == ("second", "hit"), "no-cache refreshed it"

    other: Any = [{"role": "user", "content": "keep this out of any cache"}]
    await ask(stack, messages=other, headers={"Cache-Control": "no-store"})
    _, headers = await ask(stack, messages=other)
    assert headers["x-sluicegate-cache"] == "miss", "no-store kept the answer out"
    assert len(stack.oai_upstream.requests) == 4


async def test_max_age_bounds_the_age_of_an_answer_that_may_serve(stack) -> None:  # type: ignore[no-untyped-def]
    await ask(stack)
    await asyncio.sleep(1.1)
    _, headers = await ask(stack, headers={"Cache-Control": "max-age=0"})
    assert headers["x-sluicegate-cache"] == "miss"
    _, headers = await ask(stack, headers={"Cache-Control": "max-age=3600"})
    assert headers["x-sluicegate-cache"] == "hit"


async def test_variants_of_one_request_share_an_entry(stack) -> None:  # type: ignore[no-untyped-def]
    """Key order, whitespace, defaults spelled out, string or part content, int or float."""
    bodies = [
        b'{"model":"gpt","messages":[{"role":"user","content":"Say hello"}],"temperature":0}',
        b'{ "temperature" : 0.0 ,\n  "messages" : [ { "content" : "Say hello", "role" : "user" } ],'
        b'\n  "model" : "gpt" }',
        b'{"model":"gpt","temperature":0,"n":1,"stream":false,"presence_penalty":0,'
        b'"frequency_penalty":0,"top_p":1,"user":"u-42","metadata":{"trace":"x"},"store":false,'
        b'"messages":[{"role":"user","content":[{"type":"text","text":"Say hello"}]}]}',
    ]
    outcomes = []
    async with aiohttp.ClientSession() as http:
        for body in bodies:
            async with http.post(f"{stack.url}/v1/chat/completions", data=body, headers={
                    "Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}) as r:
                assert r.status == 200, await r.text()
                outcomes.append(r.headers["x-sluicegate-cache"])
    assert outcomes == ["miss", "hit", "hit"]
    assert len(stack.oai_upstream.requests) == 1


async def test_embeddings_are_cached_like_temperature_zero(stack) -> None:  # type: ignore[no-untyped-def]
    client = stack.openai()
    first = await client.embeddings.with_raw_response.create(model="embed", input=["a", "b"])
    second = await client.embeddings.with_raw_response.create(model="embed", input=["a", "b"])
    assert (first.headers["x-sluicegate-cache"], second.headers["x-sluicegate-cache"]) == (
        "miss", "hit")
    assert [d.embedding for d in second.parse().data] == [d.embedding for d in first.parse().data]
    assert len(stack.oai_upstream.requests) == 1


# -- streams ----------------------------------------------------------------------


async def test_streamed_hits_parse_in_the_openai_sdk(stack) -> None:  # type: ignore[no-untyped-def]
    stack.oai_upstream.reply_with("Hello from a streamed answer!", usage={
        "prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17})
    client = stack.openai()

    async def streamed() -> tuple[str, Any, str]:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt", messages=HELLO, temperature=0, stream=True,
            stream_options={"include_usage": True})
        chunks = [c async for c in raw.parse()]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        assert finish == "stop"
        return text, chunks[-1].usage, raw.headers["x-sluicegate-cache"]

    # A streamed miss is stored; it then serves a stream and a plain answer alike.
    text, _, outcome = await streamed()
    assert (text, outcome) == ("Hello from a streamed answer!", "miss")
    text, usage, outcome = await streamed()
    assert (text, outcome) == ("Hello from a streamed answer!", "hit")
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 6)
    plain, headers = await ask(stack)
    assert (plain, headers["x-sluicegate-cache"]) == ("Hello from a streamed answer!", "hit")
    assert len(stack.oai_upstream.requests) == 1


async def test_streamed_hits_parse_in_the_anthropic_sdk_whoever_stored_them(stack) -> None:  # type: ignore[no-untyped-def]
    stack.claude_upstream.reply_with("Bonjour, how can I help?", usage={
        "input_tokens": 12, "output_tokens": 7})
    claude = stack.anthropic()
    messages: Any = [{"role": "user", "content": "Greet me"}]
    # This SDK sends no temperature from messages.stream(): the client opts in by header.
    opt_in = {"Cache-Control": "max-age=3600"}

    async def streamed() -> tuple[Any, str]:
        async with claude.messages.stream(model="claude", max_tokens=64, messages=messages,
                                          extra_headers=opt_in) as stream:
            message = await stream.get_final_message()
            return message, stream.response.headers["x-sluicegate-cache"]

    first, outcome = await streamed()
    assert outcome == "miss"
    again, outcome = await streamed()
    assert outcome == "hit"
    assert again.content[0].text == first.content[0].text == "Bonjour, how can I help?"
    assert again.stop_reason == "end_turn"
    assert (again.usage.input_tokens, again.usage.output_tokens) == (12, 7)
    assert len(stack.claude_upstream.requests) == 1

    # Stored by an OpenAI-format client, served as an Anthropic stream: one canonical key.
    stack.oai_upstream.reply_with("Stored by the OpenAI SDK.")
    await ask(stack, messages=messages, max_tokens=64, temperature=None, headers=opt_in)
    async with claude.messages.stream(model="gpt", max_tokens=64, messages=messages,
                                      extra_headers=opt_in) as stream:
        text = "".join([t async for t in stream.text_stream])
        assert stream.response.headers["x-sluicegate-cache"] == "hit"
    assert text == "Stored by the OpenAI SDK."
    assert len(stack.oai_upstream.requests) == 1


async def test_a_failed_or_cut_answer_is_never_stored(stack) -> None:  # type: ignore[no-untyped-def]
    client = stack.openai()
    stack.oai_upstream.pace_stream(0.01)  # separate reads: the failure comes mid-stream
    stack.oai_upstream.error_in_stream_after(4)
    stream = await client.chat.completions.create(model="gpt", messages=HELLO, temperature=0,
                                                  stream=True)
    with pytest.raises(openai.APIError):  # the error event
        _ = [c async for c in stream]
    stack.oai_upstream.reset()
    stack.oai_upstream.pace_stream(0.01)
    stack.oai_upstream.cut_stream_after(4, abort=True)
    stream = await client.chat.completions.create(model="gpt", messages=HELLO, temperature=0,
                                                  stream=True)
    with pytest.raises(openai.APIError):  # the stream broke off
        _ = [c async for c in stream]
    stack.oai_upstream.reset()
    stack.oai_upstream.fail(400, times=1)
    with pytest.raises(openai.BadRequestError):
        await ask(stack)
    _, headers = await ask(stack)
    assert headers["x-sluicegate-cache"] == "miss", "nothing was stored before"
    assert len(stack.oai_upstream.requests) == 4


# -- scope ---------------------------------------------------------------------------


async def test_tenants_never_see_each_others_answers(stack) -> None:  # type: ignore[no-untyped-def]
    stack.oai_upstream.reply_with("for acme")
    acme, _ = await ask(stack, key=KEY)
    stack.oai_upstream.reply_with("for globex")
    globex, headers = await ask(stack, key=OTHER_KEY)
    assert (acme, globex, headers["x-sluicegate-cache"]) == ("for acme", "for globex", "miss")
    assert len(stack.oai_upstream.requests) == 2, "same request, two tenants: two calls"
    assert (await ask(stack, key=KEY))[0] == "for acme"
    assert (await ask(stack, key=OTHER_KEY))[0] == "for globex"
    assert len(stack.oai_upstream.requests) == 2


async def test_a_shared_scope_is_opted_into_per_alias(stack) -> None:  # type: ignore[no-untyped-def]
    stack.oai_upstream.reply_with("shared answer")
    await ask(stack, key=KEY, model="gpt-shared")
    answer, headers = await ask(stack, key=OTHER_KEY, model="gpt-shared")
    assert (answer, headers["x-sluicegate-cache"]) == ("shared answer", "hit")
    assert len(stack.oai_upstream.requests) == 1


# -- accounting ------------------------------------------------------------------------


async def test_a_hit_is_recorded_with_no_cost_and_what_it_saved(stack) -> None:  # type: ignore[no-untyped-def]
    stack.oai_upstream.reply_with("priced", usage={
        "prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500})
    await ask(stack)
    await ask(stack)
    miss, hit = records(stack.gateway)
    # 1000 * $2.5/M + 500 * $10/M
    assert miss["cache"] == "miss" and miss["cost_usd"] == pytest.approx(0.0075)
    assert miss["saved_usd"] == 0
    assert hit["cache"] == "hit" and hit["status"] == 200
    assert (hit["cost_usd"], hit["input_tokens"], hit["output_tokens"]) == (0, 0, 0)
    assert hit["saved_usd"] == pytest.approx(0.0075)
    assert hit["target"] is None, "no upstream was called"
    usage = stack.gateway.app[GATEWAY].ledger.usage(tenant="acme")["totals"]
    assert (usage["cache_hits"], usage["saved_usd"]) == (1, pytest.approx(0.0075))


async def test_hits_do_not_spend_the_tenants_token_limit(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        config = cache_config(oai.url, claude.url)
        config["tenants"][0]["limits"] = {"tpm": 400}
        stack = Stack(await start_gateway(config), oai, claude)
        # Each call reserves ~55 tokens and used 21; 20 hits charged 21 would pass 400.
        for _ in range(20):
            _, headers = await ask(stack, max_tokens=50)
        assert headers["x-sluicegate-cache"] == "hit"
        assert int(headers["x-ratelimit-remaining-tokens"]) > 400 - 21 - 60
        assert len(oai.requests) == 1


# -- invalidation -------------------------------------------------------------------------


async def admin(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{stack.url}/admin/cache/invalidate", json=body,
            headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as resp:
        answer: dict[str, Any] = await resp.json()
        answer["status"] = resp.status
        return answer


async def test_invalidation_by_tenant_alias_and_tag(stack) -> None:  # type: ignore[no-untyped-def]
    tagged = {"x-sluicegate-tags": "kb:v1"}
    await ask(stack, key=KEY)
    await ask(stack, key=OTHER_KEY)
    await ask(stack, key=KEY, model="gpt-always", headers=tagged)
    await ask(stack, key=KEY, model="gpt-shared")

    assert (await admin(stack, {}))["status"] == 400, "an empty selection is refused"
    assert (await admin(stack, {"tag": "kb:v1"}))["invalidated"] == 1
    assert (await ask(stack, key=KEY, model="gpt-always"))[1]["x-sluicegate-cache"] == "miss"
    assert (await admin(stack, {"tenant": "globex"}))["invalidated"] == 1
    assert (await ask(stack, key=OTHER_KEY))[1]["x-sluicegate-cache"] == "miss"
    assert (await ask(stack, key=KEY))[1]["x-sluicegate-cache"] == "hit", "acme's stays"
    assert (await admin(stack, {"alias": "gpt-shared"}))["invalidated"] == 1
    assert (await ask(stack, key=OTHER_KEY, model="gpt-shared"))[1]["x-sluicegate-cache"] == "miss"
    # Entries are kept by tenant id: a name is the tenant that has it now, or none (404).
    assert (await admin(stack, {"tenant": "nobody"}))["status"] == 404
    assert (await admin(stack, {"tenant_id": config_tenant_id("acme")}))["invalidated"] == 2
    assert (await ask(stack, key=KEY))[1]["x-sluicegate-cache"] == "miss"

    # The CLI drives the same operation.
    argv = ["cache-invalidate", "--all", "--url", stack.url, "--admin-key", ADMIN_KEY, "--json"]
    assert await asyncio.to_thread(cli, argv) == 0
    assert (await ask(stack, key=KEY))[1]["x-sluicegate-cache"] == "miss"


async def test_changing_an_aliass_target_starts_new_entries(start_gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        config = cache_config(oai.url, claude.url)
        pinned = cache_config(oai.url, claude.url)
        pinned["models"][0]["targets"] = [{"provider": "oai", "model": "gpt-4o-2024-11-20"}]
        pinned["storage"] = {"url": f"sqlite:///{tmp_path}/gw0.db"}
        gateway = await start_gateway(config, reload_source=lambda: validate_config(pinned))
        stack = Stack(gateway, oai, claude)
        await ask(stack)
        assert (await ask(stack))[1]["x-sluicegate-cache"] == "hit"
        async with aiohttp.ClientSession() as http, http.post(
                f"{gateway_url(gateway)}/admin/reload",
                headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as resp:
            assert resp.status == 200, await resp.text()
        _, headers = await ask(stack)
        assert headers["x-sluicegate-cache"] == "miss"
        assert oai.last_request.json["model"] == "gpt-4o-2024-11-20"


# -- shared by replicas -----------------------------------------------------------------


async def test_replicas_share_the_cache_through_redis(start_gateway, redis_url) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        config = cache_config(oai.url, claude.url, storage={"redis_url": redis_url})
        one = Stack(await start_gateway(config), oai, claude)
        two = Stack(await start_gateway(config), oai, claude)
        oai.reply_with("stored by replica one")
        await ask(one)
        answer, headers = await ask(two)
        assert (answer, headers["x-sluicegate-cache"]) == ("stored by replica one", "hit")
        # A streamed hit from Redis, in the Anthropic SDK.
        client = anthropic_client(two.url)
        opt_in = {"Cache-Control": "max-age=3600"}
        async with client.messages.stream(model="gpt", max_tokens=64, messages=HELLO,
                                          extra_headers=opt_in) as stream:
            await stream.until_done()
            assert stream.response.headers["x-sluicegate-cache"] == "miss"
        text, _ = await ask(one, max_tokens=64, temperature=None, headers=opt_in)
        assert text == "stored by replica one"
        assert len(oai.requests) == 2
        # Invalidation through one replica reaches the other's lookups.
        assert (await admin(one, {"tenant": "acme"}))["invalidated"] == 2
        assert (await ask(two))[1]["x-sluicegate-cache"] == "miss"
