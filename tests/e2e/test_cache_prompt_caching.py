"""Provider prompt caching: cached reads and cache writes counted, priced and reported.

OpenAI reports reads as ``usage.prompt_tokens_details.cached_tokens`` (inside
``prompt_tokens``); Anthropic as ``cache_read_input_tokens`` and
``cache_creation_input_tokens`` (outside ``input_tokens``; streamed, on
``message_start``). The ledger counts both the same way (reads and writes inside
``input_tokens``), prices them at the alias's rates, and the cache report says
whether the write premium paid off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import Stack, upstream_config
from sluicegate.gateway import GATEWAY

ADMIN_KEY = "sk-e2e-admin-key"
# A long system prompt marked for Anthropic's cache; OpenAI caches prefixes by itself.
SYSTEM = "You are the support assistant of Example Corp. " * 200
MESSAGES: Any = [{"role": "user", "content": "How do I reset my password?"}]
OPENAI_USAGE = {
    "prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
    "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
}
WRITE = {"input_tokens": 21, "cache_creation_input_tokens": 1800,
         "cache_read_input_tokens": 0, "output_tokens": 100}
READ = {"input_tokens": 21, "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1800, "output_tokens": 100}
# Anthropic-like rates: reads at a tenth of input, writes at 1.25x.
CLAUDE_PRICING = {"input_per_mtok": 3.0, "output_per_mtok": 15.0,
                  "cached_input_per_mtok": 0.3, "cache_write_per_mtok": 3.75}
GPT_PRICING = {"input_per_mtok": 2.5, "output_per_mtok": 10.0, "cached_input_per_mtok": 1.25}


@pytest.fixture
async def stack(start_gateway) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        config = upstream_config(oai.url, claude.url, server={"admin_key": ADMIN_KEY})
        config["models"][0]["pricing"] = GPT_PRICING
        config["models"][1]["pricing"] = CLAUDE_PRICING
        yield Stack(await start_gateway(config), oai, claude)


def last_record(stack: Stack) -> dict[str, Any]:
    [record] = stack.gateway.app[GATEWAY].ledger.records(limit=1)
    return record


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_openai_cached_tokens_are_counted_priced_and_passed_on(stack, stream) -> None:  # type: ignore[no-untyped-def]
    stack.oai_upstream.reply_with("Use the reset link.", usage=OPENAI_USAGE)
    client = stack.openai()
    if stream:
        chunks = [c async for c in await client.chat.completions.create(
            model="gpt", messages=MESSAGES, stream=True, stream_options={"include_usage": True})]
        usage = chunks[-1].usage
    else:
        usage = (await client.chat.completions.create(model="gpt", messages=MESSAGES)).usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert (usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens) == (2006, 1920)

    record = last_record(stack)
    assert (record["input_tokens"], record["cached_tokens"], record["cache_write_tokens"]) == (
        2006, 1920, 0)
    # 86 plain at $2.5/M, 1920 cached at $1.25/M, 300 out at $10/M.
    assert record["cost_usd"] == pytest.approx((86 * 2.5 + 1920 * 1.25 + 300 * 10.0) / 1e6)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
async def test_anthropic_cache_reads_and_writes_are_counted_priced_and_passed_on(  # type: ignore[no-untyped-def]
        stack, stream) -> None:
    client = stack.anthropic()
    system: Any = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    for usage in (WRITE, READ):
        stack.claude_upstream.reply_with("Use the reset link.", usage=usage)
        if stream:
            async with client.messages.stream(model="claude", max_tokens=200, system=system,
                                              messages=MESSAGES) as s:
                message = await s.get_final_message()
        else:
            message = await client.messages.create(model="claude", max_tokens=200,
                                                   system=system, messages=MESSAGES)
        sent = stack.claude_upstream.last_request.json
        assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}, "breakpoint kept"
        got = message.usage
        assert (got.input_tokens, got.cache_creation_input_tokens, got.cache_read_input_tokens) \
            == (21, usage["cache_creation_input_tokens"], usage["cache_read_input_tokens"])
        record = last_record(stack)
        assert (record["input_tokens"], record["cached_tokens"], record["cache_write_tokens"]) \
            == (1821, usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"])

    records = stack.gateway.app[GATEWAY].ledger.records(limit=2)
    costs = {r["cache_write_tokens"] > 0: r["cost_usd"] for r in records}
    assert costs[True] == pytest.approx((21 * 3.0 + 1800 * 3.75 + 100 * 15.0) / 1e6)
    assert costs[False] == pytest.approx((21 * 3.0 + 1800 * 0.3 + 100 * 15.0) / 1e6)


async def test_cached_tokens_cross_protocols(stack) -> None:  # type: ignore[no-untyped-def]
    """Anthropic's cache reads reach an OpenAI-format client as cached prompt tokens."""
    stack.claude_upstream.reply_with("ok", usage=READ)
    completion = await stack.openai().chat.completions.create(model="claude", messages=MESSAGES)
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert (usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens) == (1821, 1800)


async def report(stack: Stack, **query: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(
            f"{stack.url}/admin/cache/report", params=query,
            headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as resp:
        assert resp.status == 200, await resp.text()
        answer: dict[str, Any] = await resp.json()
        return answer


async def test_the_report_says_whether_prefix_caching_pays(stack) -> None:  # type: ignore[no-untyped-def]
    claude = stack.anthropic()
    # One write and three reads of a 1800-token prefix: pays. (The 4th is a response-cache hit.)
    for usage in (WRITE, READ, READ, READ):
        stack.claude_upstream.reply_with("ok", usage=usage, times=1)
        await claude.messages.create(model="claude", max_tokens=200, messages=MESSAGES,
                                     extra_headers={"Cache-Control": "no-cache"})
    await claude.messages.create(model="claude", max_tokens=200, messages=MESSAGES,
                                 extra_headers={"Cache-Control": "max-age=60"})
    # Writes only, never read back: the premium is lost.
    stack.oai_upstream.reply_with("ok", usage={"prompt_tokens": 1000, "completion_tokens": 10,
                                               "total_tokens": 1010})
    await stack.openai().chat.completions.create(model="gpt", messages=MESSAGES)

    answer = await report(stack)
    rows = {(r["tenant"], r["alias"]): r for r in answer["rows"]}
    claude_row = rows["acme", "claude"]
    read_savings = 3 * 1800 * (3.0 - 0.3) / 1e6
    premium = 1800 * (3.75 - 3.0) / 1e6
    assert claude_row["requests"] == 5 and claude_row["cache_hits"] == 1
    assert claude_row["hit_rate"] == pytest.approx(0.2)
    assert (claude_row["cached_tokens"], claude_row["cache_write_tokens"]) == (5400, 1800)
    assert claude_row["read_savings_usd"] == pytest.approx(read_savings)
    assert claude_row["write_premium_usd"] == pytest.approx(premium)
    assert claude_row["net_usd"] == pytest.approx(read_savings - premium)
    assert claude_row["prefix_caching_pays"] is True
    assert claude_row["saved_usd"] == pytest.approx((21 * 3.0 + 1800 * 0.3 + 100 * 15.0) / 1e6)
    assert rows["acme", "gpt"]["prefix_caching_pays"] is None, "no prompt caching at all"
    assert answer["totals"]["requests"] == 6
    assert answer["totals"]["net_usd"] == pytest.approx(read_savings - premium)
    assert (await report(stack, tenant="nobody"))["rows"] == []
    print(f"\ncache report (acme/claude): {claude_row}")
