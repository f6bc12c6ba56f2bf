"""Failover, breakers, retry budget, stand-in aliases and stream failures, end to end.

Fake OpenAI upstreams inject the faults; clients are plain HTTP and the
official SDKs. Run with ``-s`` to see the figures the issue asks for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import KEY, anthropic_client, gateway_url, openai_client
from fakes.timing import NEVER_S, NO_ANSWER_S, eventually
from sluicegate.gateway import GATEWAY

HELLO: Any = [{"role": "user", "content": "hello"}]
AUTH = {"Authorization": f"Bearer {KEY}"}


def pool_config(urls: list[str], **alias: Any) -> dict[str, Any]:
    """Alias ``pool`` over one target per fake upstream (``up0``, ``up1``, ...)."""
    return {
        "providers": [
            {"name": f"up{i}", "type": "openai", "base_url": url, "api_key": "k",
             "first_token_timeout_s": 2, "idle_timeout_s": 0.3}
            for i, url in enumerate(urls)
        ],
        "models": [
            {"name": "pool", "targets": [{"provider": f"up{i}", "model": "m"}
                                         for i in range(len(urls))], **alias},
        ],
        "tenants": [{"name": "acme", "keys": [{"name": "e2e", "key": KEY}]}],
    }


@asynccontextmanager
async def upstreams(n: int) -> AsyncIterator[list[OpenAIUpstream]]:
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(OpenAIUpstream()) for _ in range(n)]


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any],
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    async with http.post(f"{url}/v1/chat/completions", json=body,
                         headers={**AUTH, **(headers or {})}) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def test_one_bad_target_of_three_costs_almost_nothing(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(3) as ups:
        ups[1].fail(503)
        gw = await start_gateway(pool_config([u.url for u in ups]))
        url, health = gateway_url(gw), gw.app[GATEWAY].health
        started, opened_after = time.monotonic(), None
        statuses: list[int] = []
        async with aiohttp.ClientSession() as http:
            for _ in range(20):
                batch = await asyncio.gather(*[
                    post(http, url, {"model": "pool", "messages": HELLO}) for _ in range(20)])
                statuses += [status for status, _, _ in batch]
                if opened_after is None and health.state("up1/m").breaker.state != "closed":
                    opened_after = time.monotonic() - started
        success = statuses.count(200) / len(statuses)
        print(f"\none target of three answering 503: {success:.2%} of {len(statuses)} "
              f"requests succeeded; its breaker opened after {opened_after:.2f}s")
        assert success >= 0.995
        assert opened_after is not None and opened_after < 5


async def test_a_full_outage_is_not_amplified_and_fails_fast(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(3) as ups:
        for up in ups:
            up.fail(503)
        gw = await start_gateway(pool_config([u.url for u in ups]))
        url = gateway_url(gw)
        latencies: list[float] = []
        statuses: list[int] = []

        async def one(http: aiohttp.ClientSession) -> None:
            t0 = time.monotonic()
            status, _, _ = await post(http, url, {"model": "pool", "messages": HELLO})
            latencies.append(time.monotonic() - t0)
            statuses.append(status)

        async with aiohttp.ClientSession() as http:
            for _ in range(15):
                await asyncio.gather(*[one(http) for _ in range(20)])
        attempts = sum(len(u.requests) for u in ups)
        ratio = attempts / len(statuses)
        latencies.sort()
        p95 = latencies[int(len(latencies) * 0.95)]
        print(f"\nfull outage: {attempts} upstream attempts for {len(statuses)} requests "
              f"({ratio:.2f}x); p95 time to the error {p95 * 1000:.0f} ms; "
              f"statuses {sorted(set(statuses))}")
        assert ratio <= 1.2
        assert set(statuses) <= {502, 503}
        assert p95 < 1.0


async def test_failover_before_the_first_byte_is_visible(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(2) as ups:
        ups[0].fail(500)
        ups[1].reply_with("from the second")
        config = pool_config([u.url for u in ups], balance="least_in_flight")
        config["models"][0]["targets"][1]["weight"] = 0.001  # the first is tried first
        gw = await start_gateway(config)
        for _ in range(20):  # whichever goes first, a failure must fail over
            async with aiohttp.ClientSession() as http:
                status, headers, body = await post(http, gateway_url(gw),
                                                   {"model": "pool", "messages": HELLO})
            assert status == 200, body
            assert headers["x-sluicegate-target"] == "up1/m"
            if "x-sluicegate-attempts" in headers:
                assert headers["x-sluicegate-attempts"] == "up0/m=upstream_error, up1/m=ok"
                [record] = gw.app[GATEWAY].ledger.records(limit=1)
                assert record["attempts"] == [["up0/m", "upstream_error"], ["up1/m", "ok"]]
                return
        pytest.fail("the failing target was never tried first")


async def test_retry_after_is_honoured_on_a_single_target(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(1) as ups:
        ups[0].fail(429, headers={"retry-after": "0.3"}, times=1)
        ups[0].reply_with("after waiting")
        gw = await start_gateway(pool_config([ups[0].url]))
        t0 = time.monotonic()
        async with aiohttp.ClientSession() as http:
            status, _, body = await post(http, gateway_url(gw),
                                         {"model": "pool", "messages": HELLO})
        assert status == 200, body
        assert time.monotonic() - t0 >= 0.3
        assert len(ups[0].requests) == 2


async def test_a_prompt_too_long_goes_to_the_larger_context_alias(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(2) as ups:
        ups[0].fail(400, body={"error": {
            "message": "This model's maximum context length is 8192 tokens.",
            "type": "invalid_request_error", "param": "messages",
            "code": "context_length_exceeded"}})
        ups[1].reply_with("long context answer")
        config = pool_config([ups[0].url], context_window_fallback="big")
        config["providers"].append({"name": "bigp", "type": "openai", "base_url": ups[1].url,
                                "api_key": "k"})
        config["models"].append({"name": "big", "targets": [{"provider": "bigp", "model": "L"}]})
        gw = await start_gateway(config)
        async with aiohttp.ClientSession() as http:
            status, headers, body = await post(http, gateway_url(gw),
                                               {"model": "pool", "messages": HELLO})
        assert status == 200, body
        assert headers["x-sluicegate-target"] == "bigp/L"


async def test_a_degraded_alias_serves_while_every_target_is_down(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(2) as ups:
        ups[0].fail(503)
        ups[1].reply_with("a smaller model's answer")
        config = pool_config([ups[0].url], degraded="small")
        config["providers"].append({"name": "smallp", "type": "openai", "base_url": ups[1].url,
                                "api_key": "k"})
        config["models"].append({"name": "small", "targets": [{"provider": "smallp",
                                                               "model": "s"}]})
        gw = await start_gateway(config)
        async with aiohttp.ClientSession() as http:
            for _ in range(10):  # enough failures to open the breaker
                await post(http, gateway_url(gw), {"model": "pool", "messages": HELLO})
            status, headers, body = await post(http, gateway_url(gw),
                                               {"model": "pool", "messages": HELLO})
        assert status == 200, body
        assert headers["x-sluicegate-degraded"] == "small"
        assert headers["x-sluicegate-target"] == "smallp/s"


async def test_a_stalled_stream_ends_with_an_error_not_a_clean_finish(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(1) as ups:
        ups[0].reply_with("one two three four")
        release = ups[0].hold_stream_after(2)
        gw = await start_gateway(pool_config([ups[0].url]))
        stream = await openai_client(gateway_url(gw)).chat.completions.create(
            model="pool", messages=HELLO, stream=True)
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
        release.set()
        [record] = gw.app[GATEWAY].ledger.records(limit=1)
        assert (record["status"], record["error_code"]) == (504, "upstream_stream_stalled")
        assert record["estimated"] and record["output_tokens"] > 0, "the partial answer counts"


@pytest.mark.parametrize("abort", [False, True])
async def test_every_cut_stream_is_an_error_in_both_sdks(start_gateway, abort: bool) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        config = pool_config([oai.url])
        config["providers"].append({"name": "ant", "type": "anthropic", "base_url": claude.url})
        config["models"].append({"name": "claude", "targets": [{"provider": "ant",
                                                                "model": "c"}]})
        gw = await start_gateway(config)
        url = gateway_url(gw)
        oai.reply_with("one two three four five six")
        claude.reply_with("one two three four five six")
        errors, runs = 0, 0
        for cut in range(1, 6):
            oai.cut_stream_after(cut, abort=abort)
            claude.cut_stream_after(cut + 1, abort=abort)
            runs += 2
            try:
                stream = await openai_client(url).chat.completions.create(
                    model="pool", messages=HELLO, stream=True)
                async for _ in stream:
                    pass
            except openai.APIError:
                errors += 1
            try:
                async with anthropic_client(url).messages.stream(
                        model="claude", max_tokens=50, messages=HELLO) as s:
                    async for _ in s.text_stream:
                        pass
            except anthropic.APIError:
                errors += 1
        print(f"\ncut streams (abort={abort}): {errors}/{runs} reached the SDKs as errors")
        assert errors == runs


async def test_concurrent_duplicates_of_one_idempotency_key_make_one_call(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(1) as ups:
        ups[0].reply_with("exactly once")
        ups[0].delay_first_byte(0.2)  # the duplicates arrive while the first is in flight
        gw = await start_gateway(pool_config([ups[0].url]))
        url = gateway_url(gw)
        body = {"model": "pool", "messages": HELLO}
        async with aiohttp.ClientSession() as http:
            results = await asyncio.gather(*[
                post(http, url, body, {"Idempotency-Key": "order-42"}) for _ in range(100)])
            statuses = {status for status, _, _ in results}
            bodies = {payload for _, _, payload in results}
            conflict, _, _ = await post(http, url, {"model": "pool", "messages": [
                {"role": "user", "content": "something else"}]}, {"Idempotency-Key": "order-42"})
        print(f"\n100 concurrent duplicates: {len(ups[0].requests)} upstream call(s), "
              f"{len(bodies)} distinct answer(s)")
        assert statuses == {200}
        assert len(ups[0].requests) == 1
        assert len(bodies) == 1
        assert conflict == 409
        records = gw.app[GATEWAY].ledger.records(limit=200)
        charged = [r for r in records if r["output_tokens"] > 0]
        assert len(charged) == 1, "one idempotent request is charged once"


async def test_a_streamed_answer_is_replayed_as_a_stream(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(1) as ups:
        ups[0].reply_with("replay me please")
        gw = await start_gateway(pool_config([ups[0].url]))
        client = openai_client(gateway_url(gw))
        texts = []
        for _ in range(2):
            stream = await client.chat.completions.create(
                model="pool", messages=HELLO, stream=True,
                extra_headers={"Idempotency-Key": "stream-1"})
            texts.append("".join([c.choices[0].delta.content or ""
                                  async for c in stream if c.choices]))
        assert texts == ["replay me please", "replay me please"]
        assert len(ups[0].requests) == 1


async def test_a_content_policy_refusal_goes_to_the_configured_alias(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(2) as ups:
        ups[0].fail(400, body={"error": {
            "message": "Your request was rejected as a result of our safety system.",
            "type": "invalid_request_error", "param": None, "code": "content_policy_violation"}})
        ups[1].reply_with("a more permissive answer")
        config = pool_config([ups[0].url], content_policy_fallback="other")
        config["providers"].append({"name": "otherp", "type": "openai", "base_url": ups[1].url,
                                    "api_key": "k"})
        config["models"].append({"name": "other", "targets": [{"provider": "otherp",
                                                               "model": "o"}]})
        gw = await start_gateway(config)
        async with aiohttp.ClientSession() as http:
            status, headers, body = await post(http, gateway_url(gw),
                                               {"model": "pool", "messages": HELLO})
        assert status == 200, body
        assert headers["x-sluicegate-target"] == "otherp/o"
        assert headers["x-sluicegate-attempts"] == (
            "up0/m=content_policy_violation, otherp/o=ok")


async def test_an_alias_may_set_a_shorter_first_token_deadline(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(1) as ups:
        ups[0].delay_first_byte(NO_ANSWER_S)
        config = pool_config([ups[0].url], timeouts={"first_token_s": 0.2}, max_attempts=1)
        # Only the alias's deadline can end the wait within the test.
        config["providers"][0]["first_token_timeout_s"] = NO_ANSWER_S
        gw = await start_gateway(config)
        t0 = time.monotonic()
        async with aiohttp.ClientSession() as http:
            status, _, body = await post(http, gateway_url(gw),
                                         {"model": "pool", "messages": HELLO})
        assert status == 504, body
        assert time.monotonic() - t0 < NEVER_S


async def test_target_health_is_visible_to_operators(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(2) as ups:
        ups[0].fail(503)
        config = pool_config([u.url for u in ups])
        config["server"] = {"admin_key": "admin-secret-key"}
        gw = await start_gateway(config)
        async with aiohttp.ClientSession() as http:
            for _ in range(30):
                await post(http, gateway_url(gw), {"model": "pool", "messages": HELLO})
            async with http.get(f"{gateway_url(gw)}/readyz",
                                headers={"Authorization": "Bearer admin-secret-key"}) as resp:
                ready = await resp.json()
            async with http.get(f"{gateway_url(gw)}/admin/targets",
                                headers={"Authorization": "Bearer admin-secret-key"}) as resp:
                targets = {t["label"]: t for t in (await resp.json())["data"]}
        assert ready["targets"] == {"up0/m": "open", "up1/m": "closed"}
        assert targets["up0/m"]["breaker"]["state"] == "open"
        assert targets["up0/m"]["failures"] >= 5
        assert targets["up1/m"]["successes"] >= 1 and targets["up1/m"]["ewma_latency_s"] > 0


async def test_active_health_checks_find_a_dead_target_with_no_traffic(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(1) as ups:
        ups[0].fail(503)
        config = pool_config([ups[0].url])
        config["providers"][0]["health_check_interval_s"] = 0.02
        config["resilience"] = {"breaker": {"open_s": 0.2, "consecutive_failures": 3}}
        gw = await start_gateway(config)
        breaker = gw.app[GATEWAY].health.state("up0/m").breaker
        await eventually(lambda: breaker.state != "closed", "probes never opened the breaker")
        assert breaker.state in ("open", "half_open"), "probes alone opened the breaker"
        probe = ups[0].requests[0].json
        assert probe["max_tokens"] == 1 and probe["messages"][0]["content"] == "ping"

        ups[0].reset()  # the target recovers: a half-open probe closes the breaker
        await eventually(lambda: breaker.state == "closed", "the breaker never closed")


async def test_duplicates_across_two_replicas_make_one_call(start_gateway, redis_url) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(1) as ups:
        ups[0].reply_with("once across replicas")
        ups[0].delay_first_byte(0.2)
        config = pool_config([ups[0].url])
        config["storage"] = {"redis_url": redis_url}
        first = await start_gateway(dict(config))
        second = await start_gateway(dict(config))
        urls = [gateway_url(first), gateway_url(second)]
        body = {"model": "pool", "messages": HELLO}
        async with aiohttp.ClientSession() as http:
            results = await asyncio.gather(*[
                post(http, urls[i % 2], body, {"Idempotency-Key": "cross-replica"})
                for i in range(100)])
            async with http.get(f"{urls[0]}/readyz") as resp:
                ready = await resp.json()
        print(f"\n100 duplicates over 2 replicas: {len(ups[0].requests)} upstream call(s)")
        assert {status for status, _, _ in results} == {200}
        assert len({payload for _, _, payload in results}) == 1
        assert len(ups[0].requests) == 1
        assert ready["checks"]["redis"] == "ok"


async def test_a_breaker_opened_on_one_replica_spares_the_others(start_gateway, redis_url) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(2) as ups:
        ups[0].fail(503)
        config = pool_config([u.url for u in ups])
        config["storage"] = {"redis_url": redis_url}
        a = await start_gateway(dict(config))
        b = await start_gateway(dict(config))
        b_health = b.app[GATEWAY].health
        b_health.state("up0/m")  # B watches the target from here on
        body = {"model": "pool", "messages": HELLO}
        async with aiohttp.ClientSession() as http:
            for _ in range(30):
                await post(http, gateway_url(a), body)
            assert a.app[GATEWAY].health.state("up0/m").breaker.state == "open"
            # B's shared view refreshes by itself: wait until it has seen A's opening.
            await eventually(lambda: not b_health.available("up0/m"),
                             "replica B never saw the opening")
            calls_before = len(ups[0].requests)
            statuses = [(await post(http, gateway_url(b), body))[0] for _ in range(20)]
        assert statuses == [200] * 20
        assert len(ups[0].requests) == calls_before, "replica B never called the dead target"
        assert b.app[GATEWAY].health.state("up0/m").breaker.state == "closed"


async def test_an_alias_total_timeout_bounds_a_slow_stream(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with upstreams(1) as ups:
        # Each chunk on time; the whole answer (400 chunks, 60 s) far too slow.
        ups[0].reply_with(" ".join(["word"] * 400))
        ups[0].pace_stream(0.15)
        config = pool_config([ups[0].url], timeouts={"total_s": 0.4})
        config["providers"][0]["idle_timeout_s"] = NO_ANSWER_S
        gw = await start_gateway(config)
        stream = await openai_client(gateway_url(gw)).chat.completions.create(
            model="pool", messages=HELLO, stream=True)
        t0 = time.monotonic()
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
        assert time.monotonic() - t0 < NEVER_S  # cut off, long before the answer's end
        [record] = gw.app[GATEWAY].ledger.records(limit=1)
        assert (record["status"], record["error_code"]) == (504, "upstream_timeout")


async def test_a_refused_embeddings_call_gives_back_its_probe_and_in_flight_slot(
    start_gateway,
) -> None:  # type: ignore[no-untyped-def]
    """Security review (high): an embeddings call to an alias on a provider that serves
    none, while its breaker was half-open, kept the probe slot and the in-flight count,
    so every later request got 503 no_healthy_target until restart."""
    async with AnthropicUpstream() as claude:
        claude.fail(503, times=1)
        gw = await start_gateway({
            "server": {"admin_key": "admin-secret-key"},
            "providers": [{"name": "claude", "type": "anthropic", "base_url": claude.url,
                           "api_key": "k"}],
            "models": [{"name": "c", "targets": [{"provider": "claude", "model": "m"}],
                        "max_attempts": 1}],
            "tenants": [{"name": "acme", "keys": [{"name": "e2e", "key": KEY}]}],
            "resilience": {"breaker": {"consecutive_failures": 1, "open_s": 0.05}},
        })
        url = gateway_url(gw)
        async with aiohttp.ClientSession() as http:
            status, _, _ = await post(http, url, {"model": "c", "messages": HELLO})
            assert status == 502  # the breaker opens on this failure
            await asyncio.sleep(0.2)  # past open_s: the next call is the half-open probe
            for _ in range(3):
                async with http.post(f"{url}/v1/embeddings", headers=AUTH,
                                     json={"model": "c", "input": "hi"}) as resp:
                    assert resp.status == 400
                    assert (await resp.json())["error"]["code"] == "embeddings_not_supported"
            status, _, body = await post(http, url, {"model": "c", "messages": HELLO})
            assert status == 200, body
            async with http.get(f"{url}/admin/targets",
                                headers={"Authorization": "Bearer admin-secret-key"}) as resp:
                [target] = (await resp.json())["data"]
        assert target["in_flight"] == 0
