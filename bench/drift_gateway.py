"""Drift alerts end to end: a gateway in front of a fake upstream whose behaviour shifts.

bench/drift.py measures the detectors on synthetic signal streams; this runs the
whole path the issue names: requests through an in-process gateway (SQLite
ledger, ``observability.drift.baseline_requests``) to a fake OpenAI-format
upstream that answers with a scripted refusal rate and answer length, the
ledger's rows read back by the gateway's own :class:`DriftMonitor`, and its
``drift`` alerts. The monitor is asked after every ``--check-every`` requests
(the gateway asks every 15 s; at a steady request rate that is a fixed number
of requests), so a delay is counted in requests, as the goals are.

Per run: ``--baseline`` requests of steady traffic (the baseline), then
``--warmup`` more, then the shifted behaviour until the alert (or five times the
goal). Scenarios: refusals 2 % -> 10 % (goal: within 1,000 requests) and
output tokens +30 % (goal: within 500). False alarms: ``--fa-requests`` steady
requests after a baseline (goal: at most one per 50,000, every metric). The
fake's latency is the machine's own, so latency alarms are counted apart: a
shared 2-core machine's noise is not the model's behaviour.

    PYTHONPATH=src .venv/bin/python bench/drift_gateway.py [--runs 5] [--fa-requests 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sluicegate.app import create_app
from sluicegate.config.loader import validate_config
from sluicegate.gateway import Gateway

KEY = "sk-drift-bench-key"
REFUSAL = "I'm sorry, but I can't help with that."


@dataclass
class Behaviour:
    refusal_rate: float = 0.02
    median_tokens: float = 200.0
    sigma: float = 0.8


class FakeUpstream:
    """OpenAI Chat Completions, non-streamed, answering as ``behaviour`` says."""

    def __init__(self, seed: int) -> None:
        self.behaviour = Behaviour()
        self.rng = random.Random(seed)
        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", self.chat)

    async def chat(self, request: web.Request) -> web.Response:
        await request.read()
        b = self.behaviour
        refused = self.rng.random() < b.refusal_rate
        tokens = 12 if refused else max(1, int(self.rng.lognormvariate(0, b.sigma)
                                               * b.median_tokens))
        body = {
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 0,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant",
                                     "content": REFUSAL if refused else "Here it is."}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": tokens,
                      "total_tokens": 20 + tokens},
        }
        return web.Response(body=orjson.dumps(body), content_type="application/json")


async def run(scenario: str | None, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One gateway life: the baseline, a warm-up, then the shift (or steady traffic)."""
    fake = FakeUpstream(seed)
    upstream = TestClient(TestServer(fake.app))
    await upstream.start_server()
    with tempfile.TemporaryDirectory(prefix="sluicegate-drift-") as tmp:
        config = validate_config({
            "providers": [{"name": "fake", "type": "openai", "api_key": "x",
                           "base_url": str(upstream.make_url("/v1"))}],
            "models": [{"name": "chat", "targets": [{"provider": "fake", "model": "gpt-4o"}]}],
            "tenants": [{"name": "bench", "keys": [{"name": "k", "key": KEY}]}],
            "storage": {"url": f"sqlite:///{tmp}/drift.db"},
            "observability": {"drift": {"baseline_requests": args.baseline}},
        })
        gateway = Gateway(config)
        client = TestClient(TestServer(create_app(gateway)))
        await client.start_server()
        monitor = gateway.drift_monitor
        assert monitor is not None
        headers = {"Authorization": f"Bearer {KEY}"}
        body = {"model": "chat", "messages": [{"role": "user", "content": "Hi"}]}
        sem = asyncio.Semaphore(8)

        async def one() -> None:
            async with sem:
                response = await client.post("/v1/chat/completions", json=body, headers=headers)
                await response.read()

        async def batch(n: int) -> None:
            await asyncio.gather(*(one() for _ in range(n)))

        try:
            await batch(args.baseline + args.warmup)
            await gateway.ledger.aflush()
            await monitor.check()  # the baseline is full: read it once
            if scenario == "refusals":
                fake.behaviour.refusal_rate = 0.10
            elif scenario == "output_tokens":
                fake.behaviour.median_tokens *= 1.3
            limit = {"refusals": 5_000, "output_tokens": 2_500}.get(scenario, args.fa_requests)
            sent, alarms = 0, []
            while sent < limit:
                await batch(args.check_every)
                sent += args.check_every
                # The gateway's check every 15 s is long after its 0.2 s shipping; here
                # the monitor is asked at once, so the records are shipped first.
                await gateway.ledger.aflush()
                for _, result in await monitor.check():
                    alarms.append((sent, result.metric, result.direction))
                wanted = {"refusals": "refusal_rate", "output_tokens": "output_tokens"}
                if scenario is not None and any(m == wanted[scenario] for _, m, _ in alarms):
                    break
            return {"sent": sent, "alarms": alarms}
        finally:
            await client.close()
            await upstream.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="runs per shift scenario")
    p.add_argument("--baseline", type=int, default=5_000)
    p.add_argument("--warmup", type=int, default=1_000)
    p.add_argument("--check-every", type=int, default=25)
    p.add_argument("--fa-requests", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    started = time.monotonic()
    ok = True
    for scenario, metric, goal in (("refusals", "refusal_rate", 1_000),
                                   ("output_tokens", "output_tokens", 500)):
        delays = []
        for i in range(args.runs):
            result = asyncio.run(run(scenario, args.seed * 1000 + i, args))
            hits = [sent for sent, m, d in result["alarms"] if m == metric and d == "up"]
            delays.append(hits[0] if hits else None)
        seen = sorted(d for d in delays if d is not None)
        missed = sum(d is None or d > goal for d in delays)
        ok &= missed == 0
        print(f"{scenario}: detected after {seen} requests (median "
              f"{statistics.median(seen) if seen else '-'}; goal {goal}; "
              f"{missed}/{args.runs} missed)", flush=True)
    steady = asyncio.run(run(None, args.seed * 1000 + 999, args))
    behaviour = [a for a in steady["alarms"] if a[1] != "latency_ms"]
    latency = [a for a in steady["alarms"] if a[1] == "latency_ms"]
    per_50k = len(behaviour) * 50_000 / steady["sent"]
    ok &= per_50k <= 1
    print(f"false alarms: {len(behaviour)} in {steady['sent']} steady requests "
          f"({per_50k:.2f} per 50,000; goal <= 1) {behaviour}; latency alarms apart: "
          f"{len(latency)} {latency}")
    print(f"({time.monotonic() - started:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
