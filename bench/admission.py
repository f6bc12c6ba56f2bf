"""What admission costs: c=1 p50 latency with limits checked in Redis, against
the same gateway with no limits, and the Redis round trips each request makes.

Two ``sluicegate serve`` processes on the nginx upstream of bench/run.py, the
same config but for the tenant's limits: one with none (admission skipped),
one with rpm, tpm, concurrency and a budget, shared through Redis
(``SLUICEGATE_BENCH_REDIS``, default redis://127.0.0.1:6379/14, flushed).
c=1 runs alternate between the gateways, ``--rounds`` times; the figure is the
difference of the median p50s of the Redis gateway with and without limits.
The median of the per-round differences is printed beside it: the runs of one
round are seconds apart, so it is less exposed to the load of a shared box
drifting over the minute the benchmark takes (the goal is judged on the first).

Round trips are the gateway's own count (``sluicegate_limiter_round_trips_total``
on /metrics) over the measured runs.

Goal (issue 4): <= one Redis round trip per admission, <= 0.3 ms added p50.

    .venv/bin/python bench/admission.py [--rounds 5] [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import urllib.request
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

# no limits and no Redis; Redis but no limits (breaker sync only); limits in Redis.
PORTS = {"unlimited": 18086, "redis-only": 18088, "redis": 18087}
LIMITS = (
    "{rpm: 100000000, tpm: 10000000000, max_concurrency: 10000,"
    " budget_usd: 1000000000, budget_period: month}"
)


def config(port: int, db: str, redis_url: str | None, limits: str | None) -> str:
    text = (bench.BENCH_DIR / "gateway.yaml").read_text()
    text = text.replace("port: 18082", f"port: {port}")
    text = text.replace("url: env:SLUICEGATE_BENCH_DB", f'url: "{db}"')
    if redis_url:
        text = text.replace("storage:\n", f"storage:\n  redis_url: {redis_url}\n")
    head, _, tail = text.partition("    limits: {")
    _, _, rest = tail.partition("}")
    return head + (f"    limits: {limits}" if limits else "    limits: {}") + rest


def start(procs: bench.Processes, name: str, text: str, port: int) -> bench.Proc:
    path = procs.workdir / f"{name}.yaml"
    path.write_text(text)
    exe = Path(sys.executable).parent / "sluicegate"
    proc = procs.start(name, [str(exe), "serve", "--config", str(path)], env=dict(os.environ))
    bench.wait_ready(proc, port)
    return proc


def round_trips(port: int) -> float:
    """The gateway's own count of round trips to the limiter (its /metrics)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
        text = r.read().decode()
    match = re.search(r"^sluicegate_limiter_round_trips_total (\S+)$", text, re.M)
    if match is None:
        raise bench.BenchError("no sluicegate_limiter_round_trips_total in /metrics")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    redis_url = os.environ.get("SLUICEGATE_BENCH_REDIS", "redis://127.0.0.1:6379/14")
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    opts = bench.parse_options([])
    lua = opts.shared / "chat.lua"
    p50: dict[str, list[float]] = {name: [] for name in PORTS}
    with bench.processes() as procs:
        bench.start_nginx(procs, opts)
        for name, port in PORTS.items():
            db = f"sqlite:///{procs.workdir}/{name}.db"
            limited = name == "redis"
            shared = redis_url if name.startswith("redis") else None
            start(procs, name, config(port, db, shared, LIMITS if limited else None), port)
        targets = {
            name: bench.Target(name, name, f"http://127.0.0.1:{port}/v1/chat/completions")
            for name, port in PORTS.items()
        }
        for target in targets.values():
            bench.smoke(target)
            bench.run_wrk(target, lua, 1, 1)  # warm-up
        before = round_trips(PORTS["redis"])
        requests = 0
        for n in range(args.rounds):
            for name, target in targets.items():
                result = bench.run_wrk(target, lua, 1, args.seconds)
                p50[name].append(result.p50_ms)
                if name == "redis":
                    requests += result.requests
            print(f"admission: round {n + 1}/{args.rounds}: "
                  + ", ".join(f"{k} p50 {v[-1]:.3f} ms" for k, v in p50.items()), flush=True)
        trips = round_trips(PORTS["redis"]) - before
    # Admission's cost: the same Redis-connected gateway with and without limits.
    added = statistics.median(p50["redis"]) - statistics.median(p50["redis-only"])
    per_request = trips / max(1, requests)
    medians = {name: statistics.median(v) for name, v in p50.items()}
    print(f"c=1 p50, median of {args.rounds}: no Redis, no limits {medians['unlimited']:.3f} ms;"
          f" Redis, no limits {medians['redis-only']:.3f} ms;"
          f" Redis and limits {medians['redis']:.3f} ms")
    paired = statistics.median(r - o for r, o in zip(p50["redis"], p50["redis-only"], strict=True))
    print(f"admission adds {added:+.3f} ms at p50 (goal <= 0.3 ms);"
          f" median of the per-round differences {paired:+.3f} ms")
    print(f"Redis round trips: {per_request:.3f} per request over {requests} requests"
          " (the settlement travels with the next admission; goal <= 1)")
    ok = added <= 0.3 and per_request <= 1.01
    print("admission goals:", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
