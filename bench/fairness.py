"""Noisy-neighbour benchmark: is a saturated upstream shared fairly between tenants?

Three processes, so the figures measure the gateway and not a shared event
loop: a fake upstream (answers after 50 ms ± 50%, as answers of varying
length take varying time), ``sluicegate serve`` with one deployment capped at
``--slots`` concurrent calls (the upstream's fixed capacity), and this script
as the two tenants' clients.

1. Both backlogged, A offering ten times B's load (closed loops, 10x the
   clients; each alone saturates the upstream), equal weights: B's share of
   the answers, and Jain's fairness index over each 10 s window.
2. B offering a light open-loop load (an eighth of the capacity) alone, then
   while A floods the upstream: B's p50 latency, and the ratio.

Goals (issue 4): B's share >= 45 %, Jain >= 0.95 in every window, B's p50
ratio <= 1.5. Exit status 1 when one fails.

    .venv/bin/python bench/fairness.py [--duration 30] [--slots 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

SERVICE_S = 0.05
JITTER = 0.5
A_KEY = "sk-bench-tenant-a-0000"
B_KEY = "sk-bench-tenant-b-0000"
WINDOW_S = 10.0

CONFIG = """
server: {{port: {port}}}
storage: {{url: "sqlite:///{db}"}}
providers:
  - {{name: up, type: openai, base_url: "http://127.0.0.1:{upstream}/v1", api_key: k}}
models:
  - name: m
    targets: [{{provider: up, model: x, max_concurrency: {slots}}}]
tenants:
  - {{name: a, keys: [{{name: bulk, key: {a_key}}}]}}
  - {{name: b, keys: [{{name: chat, key: {b_key}}}]}}
"""

ANSWER = (
    b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"x",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},'
    b'"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}'
)


def serve_upstream(port: int) -> None:
    """The fake upstream: any number of concurrent calls, each 50 ms ± 50%."""
    rng = random.Random(7)

    async def chat(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(SERVICE_S * rng.uniform(1 - JITTER, 1 + JITTER))
        return web.Response(body=ANSWER, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port}")


class Load:
    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http = http
        self.url = url
        self.stop = asyncio.Event()

    async def ask(self, key: str) -> tuple[int, float]:
        started = time.perf_counter()
        async with self.http.post(
            f"{self.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "m", "max_tokens": 16,
                  "messages": [{"role": "user", "content": "hi"}]},
        ) as r:
            await r.read()
            return r.status, time.perf_counter() - started

    async def closed_loop(self, key: str, clients: int, done: list[float]) -> None:
        """``clients`` callers, each sending its next request when an answer comes."""
        async def one() -> None:
            while not self.stop.is_set():
                status, _ = await self.ask(key)
                if status == 200 and not self.stop.is_set():
                    done.append(time.monotonic())
        await asyncio.gather(*(one() for _ in range(clients)))

    async def open_loop(self, key: str, rate: float, count: int) -> list[float]:
        """``count`` requests at random (Poisson) times, ``rate`` a second; their latencies."""
        rng = random.Random(11)
        latencies: list[float] = []

        async def one() -> None:
            status, latency = await self.ask(key)
            if status == 200:
                latencies.append(latency)

        sent = []
        for _ in range(count):
            sent.append(asyncio.create_task(one()))
            await asyncio.sleep(rng.expovariate(rate))
        await asyncio.gather(*sent)
        return latencies


def jain(xs: list[float]) -> float:
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs)) if any(xs) else 1.0


async def backlogged(url: str, duration: float, slots: int) -> tuple[float, list[float]]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        load = Load(http, url)
        a: list[float] = []
        b: list[float] = []
        # B alone would saturate the upstream (2x its slots in callers); A sends 10x that.
        runs = [asyncio.create_task(load.closed_loop(A_KEY, 20 * slots, a)),
                asyncio.create_task(load.closed_loop(B_KEY, 2 * slots, b))]
        started = time.monotonic()
        await asyncio.sleep(duration)
        load.stop.set()
        await asyncio.gather(*runs)
    windows = []
    t = started
    while t + WINDOW_S <= started + duration + 1e-6:
        xa = sum(1 for s in a if t <= s < t + WINDOW_S)
        xb = sum(1 for s in b if t <= s < t + WINDOW_S)
        windows.append(jain([xa, xb]))
        t += WINDOW_S
    return len(b) / max(1, len(a) + len(b)), windows


async def light_tenant(url: str, slots: int) -> tuple[float, float]:
    rate = slots / SERVICE_S / 8  # an eighth of the upstream's capacity
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        load = Load(http, url)
        alone = await load.open_loop(B_KEY, rate, 200)
        flood: list[float] = []
        flooding = asyncio.create_task(load.closed_loop(A_KEY, 3 * slots, flood))
        await asyncio.sleep(1.0)
        shared = await load.open_loop(B_KEY, rate, 200)
        load.stop.set()
        await flooding
    return statistics.median(alone), statistics.median(shared)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of scenario 1")
    parser.add_argument("--slots", type=int, default=4, help="the upstream's capacity")
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        serve_upstream(args.upstream)
        return 0

    upstream_port, gateway_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "fair.yaml"
        config.write_text(CONFIG.format(port=gateway_port, db=f"{tmp}/fair.db",
                                        upstream=upstream_port, slots=args.slots,
                                        a_key=A_KEY, b_key=B_KEY))
        exe = Path(sys.executable).parent / "sluicegate"
        procs = [
            subprocess.Popen([sys.executable, __file__, "--upstream", str(upstream_port)]),
            subprocess.Popen([str(exe), "serve", "--config", str(config)], env=os.environ,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        ]
        try:
            wait_for_port(upstream_port)
            wait_for_port(gateway_port)
            url = f"http://127.0.0.1:{gateway_port}"
            share, windows = asyncio.run(backlogged(url, args.duration, args.slots))
            alone, shared = asyncio.run(light_tenant(url, args.slots))
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
    ratio = shared / alone
    print(f"upstream: {args.slots} slots, answers in {SERVICE_S * 1000:.0f} ms ± {JITTER:.0%}")
    print(f"1. both backlogged, A offers 10x B's load, {args.duration:g} s:"
          f" B's share {share:.1%} (goal >= 45%)")
    print("   Jain's index per 10 s window: "
          + ", ".join(f"{j:.3f}" for j in windows) + " (goal >= 0.95)")
    print(f"2. B light (1/8 of capacity): p50 alone {alone * 1000:.1f} ms,"
          f" while A floods {shared * 1000:.1f} ms: {ratio:.2f}x (goal <= 1.5x)")
    ok = share >= 0.45 and all(j >= 0.95 for j in windows) and ratio <= 1.5
    print("fairness goals:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
