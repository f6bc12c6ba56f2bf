"""/metrics has the GenAI conventions' histograms: their types, units, bucket boundaries
and labels, with label values only from the config."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import KEY, anthropic_client, gateway_url, openai_client, upstream_config

HELLO = [{"role": "user", "content": "Say hello"}]
GENAI = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model")


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def buckets(family: object, **labels: str) -> list[float]:
    return [
        float(s.labels["le"]) for s in family.samples  # type: ignore[attr-defined]
        if s.name.endswith("_bucket") and all(s.labels.get(k) == v for k, v in labels.items())
    ]


async def test_the_genai_histograms_follow_the_conventions(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        client = await start_gateway(upstream_config(oai.url, claude.url))
        base = gateway_url(client)
        oai.reply_with("hi", usage={"prompt_tokens": 20, "completion_tokens": 5,
                                    "total_tokens": 25})
        await openai_client(base).chat.completions.create(model="gpt", messages=HELLO)
        await anthropic_client(base).messages.create(model="claude", max_tokens=16,
                                                     messages=HELLO)
        oai.fail(500)
        await client.post("/v1/chat/completions", json={"model": "gpt", "messages": HELLO},
                          headers={"Authorization": f"Bearer {KEY}"})
        await client.post("/v1/chat/completions", json={"model": "no-such", "messages": HELLO},
                          headers={"Authorization": f"Bearer {KEY}"})
        seen = families(await (await client.get("/metrics")).text())

    tokens = seen["gen_ai_client_token_usage"]
    assert tokens.type == "histogram"  # type: ignore[attr-defined]
    assert buckets(tokens, gen_ai_token_type="input", gen_ai_request_model="gpt-4o") == [
        1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
        67108864, float("inf")]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in seen.values() for s in f.samples}  # type: ignore[attr-defined]
    openai_labels = (("gen_ai_operation_name", "chat"), ("gen_ai_provider_name", "openai"),
                     ("gen_ai_request_model", "gpt-4o"))
    assert samples["gen_ai_client_token_usage_sum", (*openai_labels,
                                                     ("gen_ai_token_type", "input"))] == 20
    assert samples["gen_ai_client_token_usage_sum", (*openai_labels,
                                                     ("gen_ai_token_type", "output"))] == 5

    calls = seen["gen_ai_client_operation_duration_seconds"]
    assert buckets(calls, error_type="", gen_ai_request_model="gpt-4o") == [
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
        float("inf")]
    call_errors = {s.labels["error_type"] for s in calls.samples}  # type: ignore[attr-defined]
    assert call_errors == {"", "upstream_error"}, "each failed call counts with its error"
    providers = {s.labels["gen_ai_provider_name"] for s in calls.samples}  # type: ignore[attr-defined]
    assert providers == {"openai", "anthropic"}

    requests = seen["gen_ai_server_request_duration_seconds"]
    models = {s.labels["gen_ai_request_model"] for s in requests.samples}  # type: ignore[attr-defined]
    assert models == {"gpt", "claude"}, "the aliases asked for; never an unknown model's name"
    assert {s.labels["error_type"] for s in requests.samples} == {"", "upstream_error"}  # type: ignore[attr-defined]

    ttft = seen["gen_ai_server_time_to_first_token_seconds"]
    assert buckets(ttft, gen_ai_request_model="claude") == [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
        10.0, float("inf")]
    assert set(ttft.samples[0].labels) - {"le"} == set(GENAI)  # type: ignore[attr-defined]

    overhead = seen["sluicegate_overhead_seconds"]
    assert overhead.type == "histogram"  # type: ignore[attr-defined]
    assert samples["sluicegate_overhead_seconds_count", ()] == 4, "every request"
    assert samples["sluicegate_tokens_total", (("alias", "gpt"), ("tenant", "acme"),
                                                ("type", "input"))] == 20
