"""Issue 15's goals: /metrics under 2 MB, memory flat over 100,000 sessions and feedback entries.

Starts a real gateway (``sluicegate serve --config FILE``, the built-in ``echo``
provider) with many tenants (``--tenants``, one key each) and aliases
(``--aliases``), so that /metrics carries the label cardinality of a real
deployment, then drives it with aiohttp at ``--concurrency``:
``--requests`` chat completions, every one with a distinct
``x-sluicegate-session`` and every other one streamed, spread over the tenants
(round robin) and over ``--aliases-per-tenant`` aliases of each, and one
``POST /v1/feedback`` (thumbs, value 1) on each answer's ``x-request-id``.

The gateway's RSS (``/proc/PID/status`` VmRSS) is sampled after the warm-up
(``--warmup`` requests) and every ``--sample-every`` after it, and the /metrics
body size after the warm-up and at the end. Then ``GET /admin/sessions?limit=5``
is asked and the store is counted: distinct sessions in the ledger and feedback
rows must both equal ``--requests``.

Verdicts (see :func:`memory_verdict`, :func:`metrics_verdict`):

- /metrics: under 2 MB at the end, and no bigger than after the warm-up
  (sessions and feedback add no series once every tenant/alias pair is seen);
- memory flat: RSS growth from the warm-up to the end at most 5% of the warm-up
  RSS, and the least-squares slope over the last half of the samples at most
  50 bytes per request (a session id kept in a set or dict costs ~100 bytes).

SQLite in a scratch dir by default; ``--storage postgresql://USER@HOST:PORT/ANY``
creates a database of its own on that server (``sluicegate migrate``), and drops
it at the end. Exit status 1 when a goal fails or any call did not answer as
expected.

    PYTHONPATH=$PWD/src .venv/bin/python bench/observability_memory.py [--requests 100000]

On a 2-core box the 100,000 requests and their feedback take about 3 minutes on SQLite (556
requests/s with feedback) and about 6 to 8 on PostgreSQL. ``--tracemalloc`` with 25,000 requests
takes about 7 minutes, because tracemalloc is slow.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

MB = 1024 * 1024
METRICS_LIMIT_BYTES = 2 * MB
GROWTH_LIMIT = 0.05  # of the warm-up RSS
SLOPE_LIMIT_BYTES = 50.0  # per request, over the last half of the samples
ADMIN_KEY = "sk-admin-observability-memory"
PROMPT = "Tell me about the sluice gates of the old canal."


# --------------------------------------------------------------------------- options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=100_000,
                   help="chat requests, each with its own session and one feedback")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--tenants", type=int, default=1000)
    p.add_argument("--aliases", type=int, default=20)
    p.add_argument("--aliases-per-tenant", type=int, default=3,
                   help="aliases each tenant uses (its /metrics series: tenant x alias)")
    p.add_argument("--warmup", type=int, default=10_000,
                   help="requests before the first RSS sample")
    p.add_argument("--sample-every", type=int, default=10_000)
    p.add_argument("--storage", default=None,
                   help="postgresql://USER@HOST:PORT/ANY: a database of its own on that server")
    p.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    p.add_argument("--tracemalloc", action="store_true",
                   help="instead: the gateway in this process, and what Python memory grew by "
                        "from the warm-up to the end (tracemalloc, by line; objects, by type)")
    args = p.parse_args(argv)
    if not 1 <= args.aliases_per_tenant <= args.aliases:
        p.error("--aliases-per-tenant must be between 1 and --aliases")
    if args.warmup >= args.requests or args.warmup < 1:
        p.error("--warmup must be at least 1 and below --requests")
    if args.sample_every < 1:
        p.error("--sample-every must be at least 1")
    if args.storage is not None and not args.storage.startswith(("postgresql://", "postgres://")):
        p.error("--storage must be a postgresql:// URL")
    return args


def sample_points(requests: int, warmup: int, every: int) -> list[int]:
    """Request counts at which RSS is read: the warm-up, every ``every`` after, the end."""
    points = list(range(warmup, requests, every))
    if points[-1] != requests:
        points.append(requests)
    return points


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    ok: bool
    text: str


def slope(samples: list[tuple[int, float]]) -> float:
    """Least-squares slope of (requests, bytes) samples, in bytes per request."""
    if len(samples) < 2:
        return 0.0
    return statistics.linear_regression([float(n) for n, _ in samples],
                                        [v for _, v in samples]).slope


def memory_verdict(samples: list[tuple[int, float]]) -> Verdict:
    """Flat: growth warm-up -> end <= 5% of the warm-up RSS, and no upward trend in the
    last half (slope <= 50 bytes per request). ``samples``: (requests, RSS bytes)."""
    first, last = samples[0][1], samples[-1][1]
    growth = last - first
    half = samples[max(0, min(len(samples) // 2, len(samples) - 2)):]  # at least two
    trend = slope(half)
    ok = growth <= GROWTH_LIMIT * first and trend <= SLOPE_LIMIT_BYTES
    return Verdict(ok, (
        f"memory {'FLAT' if ok else 'NOT FLAT'}: {growth / MB:+.1f} MB "
        f"({growth / first:+.1%}) from the warm-up (goal <= {GROWTH_LIMIT:.0%}), "
        f"last-half trend {trend:+.1f} B/request over {len(half)} samples "
        f"(goal <= {SLOPE_LIMIT_BYTES:.0f})"
    ))


def metrics_verdict(warm: bytes, end: bytes) -> Verdict:
    """Under 2 MB at the end, and no more series than after the warm-up (none per session
    or feedback). Series, not bytes: the values' digits grow with the counts."""
    warm_series, end_series = series(warm), series(end)
    ok = len(end) < METRICS_LIMIT_BYTES and end_series <= warm_series
    return Verdict(ok, (
        f"/metrics {'OK' if ok else 'FAIL'}: {len(end):,} bytes at the end "
        f"({len(end) / MB:.2f} MB, goal < 2 MB), {len(warm):,} after the warm-up "
        f"({len(end) - len(warm):+,}); {end_series:,} series lines at the end, "
        f"{warm_series:,} after the warm-up"
    ))


def series(body: bytes) -> int:
    """Sample lines of an exposition (comments and blank lines aside)."""
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


# --------------------------------------------------------------------------- config


def tenant_key(t: int) -> str:
    return f"sk-obsmem-tenant-{t:05d}"


def alias_name(a: int) -> str:
    return f"alias-{a:02d}"


def aliases_of(t: int, aliases: int, per_tenant: int) -> list[str]:
    """The aliases tenant ``t`` uses: ``per_tenant`` of them, spread so that every alias
    is used by about as many tenants."""
    step = max(1, aliases // per_tenant)
    return [alias_name((t + k * step) % aliases) for k in range(per_tenant)]


def config(args: argparse.Namespace, storage_url: str, spool: Path, port: int) -> dict[str, Any]:
    return {
        "server": {"host": "127.0.0.1", "port": port, "admin_key": ADMIN_KEY},
        "storage": {"url": storage_url, "spool_dir": str(spool)},
        "providers": [{"name": "echo", "type": "echo"}],
        "models": [
            {"name": alias_name(a), "targets": [{"provider": "echo", "model": f"echo-{a % 4}"}],
             "pricing": {"input_per_mtok": 0.15, "output_per_mtok": 0.6}}
            for a in range(args.aliases)
        ],
        "tenants": [
            {"name": f"tenant-{t:05d}", "keys": [{"name": "main", "key": tenant_key(t)}]}
            for t in range(args.tenants)
        ],
    }


# --------------------------------------------------------------------------- traffic


@dataclass
class Traffic:
    """What the drivers saw, and the gateway's RSS and /metrics size along the way."""

    done: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    rss: list[tuple[int, float]] = field(default_factory=list)  # (requests, bytes)
    metrics_warm: bytes = b""
    started: float = 0.0
    warm_at: float = 0.0


async def one(http: aiohttp.ClientSession, base: str, i: int, args: argparse.Namespace,
              run_id: str, errors: Counter[str]) -> None:
    """Request ``i``: its tenant, one of its aliases, a session of its own, then feedback."""
    t = i % args.tenants
    alias = aliases_of(t, args.aliases, args.aliases_per_tenant)[(i // args.tenants)
                                                                 % args.aliases_per_tenant]
    auth = {"Authorization": f"Bearer {tenant_key(t)}"}
    stream = i % 2 == 1
    body = {"model": alias, "stream": stream,
            "messages": [{"role": "user", "content": f"{PROMPT} ({i})"}]}
    headers = auth | {"x-sluicegate-session": f"s-{run_id}-{i:07d}"}
    async with http.post(f"{base}/v1/chat/completions", json=body, headers=headers) as r:
        await r.read()
        request_id = r.headers.get("x-request-id")
        if r.status != 200 or request_id is None:
            errors[f"chat {r.status}"] += 1
            return
    feedback = {"request_id": request_id, "name": "thumbs", "value": 1}
    async with http.post(f"{base}/v1/feedback", json=feedback, headers=auth) as r:
        await r.read()
        if r.status != 201:
            errors[f"feedback {r.status}"] += 1


async def metrics_body(http: aiohttp.ClientSession, base: str) -> bytes:
    async with http.get(f"{base}/metrics") as r:
        r.raise_for_status()
        return await r.read()


def families(body: bytes) -> list[tuple[str, int, int]]:
    """(family, series lines, bytes) of an exposition, biggest first: where the size is."""
    lines: Counter[str] = Counter()
    size: Counter[str] = Counter()
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        for suffix in ("_bucket", "_count", "_sum", "_created", "_total"):
            name = name.removesuffix(suffix)
        lines[name] += 1
        size[name] += len(line) + 1
    return [(name, lines[name], n) for name, n in size.most_common()]


async def drive(base: str, pid: int, args: argparse.Namespace) -> Traffic:
    traffic = Traffic(started=time.monotonic())
    points = sample_points(args.requests, args.warmup, args.sample_every)
    pending = list(points)
    counter = itertools.count()
    run_id = uuid.uuid4().hex[:8]
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def worker() -> None:
            while (i := next(counter)) < args.requests:
                await one(http, base, i, args, run_id, traffic.errors)
                traffic.done += 1
                if pending and traffic.done >= pending[0]:
                    # Whatever is in flight now is only partly served: one worker reads
                    # while the other 31 keep the load on, as a scraper would.
                    pending.pop(0)
                    first = not traffic.rss
                    if first:
                        # Scraped before the first sample: building the exposition takes
                        # a few times its size, which the allocator then keeps; that is
                        # part of a warm gateway (scraped every 15 s), not growth.
                        traffic.metrics_warm = await metrics_body(http, base)
                        traffic.warm_at = time.monotonic()
                    rss = float(bench.rss_bytes(pid))
                    traffic.rss.append((traffic.done, rss))
                    elapsed = time.monotonic() - traffic.started
                    line = (f"  {traffic.done:>8,} requests: RSS {rss / MB:7.1f} MB"
                            f"  ({elapsed:5.0f}s)")
                    if first:
                        line += f"  /metrics {len(traffic.metrics_warm):,} bytes"
                    print(line, flush=True)

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return traffic


# --------------------------------------------------------------------------- checks


async def check_sessions(base: str) -> tuple[int, float, list[dict[str, Any]]]:
    """``GET /admin/sessions?limit=5``: status, seconds, its rows."""
    async with aiohttp.ClientSession() as http:
        t = time.perf_counter()
        async with http.get(f"{base}/admin/sessions", params={"limit": "5"},
                            headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as r:
            data = await r.json() if r.status == 200 else {"data": []}
            return r.status, time.perf_counter() - t, data["data"]


def count_sqlite(db: Path) -> tuple[int, int]:
    """(distinct sessions in the ledger, feedback rows), read straight from the file."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        sessions = conn.execute(
            "SELECT count(DISTINCT session) FROM ledger WHERE session IS NOT NULL").fetchone()[0]
        feedback = conn.execute("SELECT count(*) FROM feedback").fetchone()[0]
    return int(sessions), int(feedback)


async def count_postgres(url: str) -> tuple[int, int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        sessions = await conn.fetchval(
            "SELECT count(DISTINCT session) FROM ledger WHERE session IS NOT NULL")
        feedback = await conn.fetchval("SELECT count(*) FROM feedback")
    finally:
        await conn.close()
    return int(sessions), int(feedback)


def database_url(server: str, name: str) -> str:
    return urlunsplit(urlsplit(server)._replace(path="/" + name))


async def create_database(server: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(server: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# --------------------------------------------------------------------------- main


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gateway(procs: bench.Processes, config_file: Path, port: int,
                  storage_url: str | None) -> bench.Proc:
    exe = Path(sys.executable).parent / "sluicegate"
    if storage_url is not None:
        subprocess.run([str(exe), "migrate", "--url", storage_url], check=True)
    proc = procs.start("sluicegate", [str(exe), "serve", "--config", str(config_file),
                                      "--port", str(port)])
    bench.wait_ready(proc, port, timeout=120)
    return proc


async def measure(args: argparse.Namespace, workdir: Path) -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db = workdir / "ledger.db"
    pg_name = f"sluicegate_obsmem_{os.getpid()}"
    pg_url = None if args.storage is None else database_url(args.storage, pg_name)
    if args.storage is not None:
        await create_database(args.storage, pg_name)
    storage_url = pg_url or f"sqlite:///{db}"
    config_file = workdir / "gateway.yaml"
    config_file.write_text(yaml.safe_dump(config(args, storage_url, workdir / "spool", port)))
    procs = bench.Processes(workdir)
    try:
        proc = start_gateway(procs, config_file, port, pg_url)
        pid = proc.popen.pid
        idle = bench.rss_bytes(pid)
        print(
            f"gateway pid {pid} on {base}, {'PostgreSQL' if pg_url else 'SQLite'} storage, "
            f"{args.tenants:,} tenants x {args.aliases} aliases ({args.aliases_per_tenant} "
            f"used by each), idle RSS {idle / MB:.1f} MB\n"
            f"{args.requests:,} requests (every other one streamed), each with its own session "
            f"and one feedback, concurrency {args.concurrency}", flush=True)
        traffic = await drive(base, pid, args)
        elapsed = time.monotonic() - traffic.started
        async with aiohttp.ClientSession() as http:
            body = await metrics_body(http, base)

        status, seconds, rows = await check_sessions(base)
        sessions, feedback = (
            await count_postgres(pg_url) if pg_url else count_sqlite(db))
        if proc.popen.poll() is not None:
            print(f"the gateway exited: {proc.log_tail()}")
            return 1
    finally:
        procs.stop_all()
        if args.storage is not None and not args.keep:
            await drop_database(args.storage, pg_name)

    rate = args.requests / elapsed
    after = args.requests - args.warmup
    print(
        f"\n{args.requests:,} requests + {args.requests:,} feedback in {elapsed:.0f}s "
        f"({rate:,.0f} requests/s with their feedback; {after:,} after the warm-up in "
        f"{time.monotonic() - traffic.warm_at if traffic.warm_at else 0:.0f}s)")
    print("RSS series (requests: MB): " + ", ".join(
        f"{n // 1000}k: {v / MB:.1f}" for n, v in traffic.rss))
    first, last = traffic.rss[0][1], traffic.rss[-1][1]
    print(f"RSS warm-up -> end: {first / MB:.1f} -> {last / MB:.1f} MB, "
          f"{(last - first) / MB:+.1f} MB ({(last - first) / first:+.1%}); idle was "
          f"{idle / MB:.1f} MB")
    print(f"/metrics: {len(traffic.metrics_warm):,} bytes after the warm-up, {len(body):,} "
          "at the end; biggest families:")
    for name, lines, size in families(body)[:6]:
        print(f"  {name}: {lines:,} lines, {size:,} bytes")
    print(f"GET /admin/sessions?limit=5: {status} in {seconds * 1000:.0f} ms, {len(rows)} rows"
          + (f", e.g. {rows[0]}" if rows else ""))
    print(f"store: {sessions:,} distinct sessions in the ledger, {feedback:,} feedback rows "
          f"(expected {args.requests:,} each)")
    errors = sum(traffic.errors.values())
    if errors:
        print(f"errors: {dict(traffic.errors)}")
    counts_ok = (status == 200 and len(rows) == min(5, args.requests)
                 and sessions == args.requests and feedback == args.requests and not errors)
    metrics = metrics_verdict(traffic.metrics_warm, body)
    memory = memory_verdict(traffic.rss)
    print()
    print(metrics.text)
    print(memory.text)
    print(f"counts {'OK' if counts_ok else 'FAIL'}: sessions {sessions:,}, feedback {feedback:,}, "
          f"/admin/sessions {status}, {errors} failed calls")
    return 0 if metrics.ok and memory.ok and counts_ok else 1


async def trace(args: argparse.Namespace, workdir: Path) -> int:
    """The same traffic to an in-process gateway; what grew between warm-up and end.

    tracemalloc sees Python's allocations only (not SQLite's page cache, nor
    what the allocator keeps of freed memory), which is what a per-session or
    per-feedback leak would be made of.
    """
    import gc
    import tracemalloc

    from aiohttp.test_utils import TestServer

    from sluicegate.app import create_app
    from sluicegate.config.loader import validate_config
    from sluicegate.gateway import Gateway

    data = config(args, f"sqlite:///{workdir / 'ledger.db'}", workdir / "spool", 0)
    gateway = Gateway(validate_config(data))
    server = TestServer(create_app(gateway), host="127.0.0.1")
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    run_id = uuid.uuid4().hex[:8]
    errors: Counter[str] = Counter()
    tracemalloc.start(8)

    async def batch(first: int, last: int) -> None:
        counter = itertools.count(first)
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:

            async def worker() -> None:
                while (i := next(counter)) < last:
                    await one(http, base, i, args, run_id, errors)

            await asyncio.gather(*(worker() for _ in range(args.concurrency)))

    def snapshot() -> tuple[tracemalloc.Snapshot, Counter[str]]:
        gc.collect()
        types = Counter(type(o).__qualname__ for o in gc.get_objects())
        return tracemalloc.take_snapshot(), types

    try:
        await batch(0, args.warmup)
        await gateway.ledger.aflush()
        warm, warm_types = snapshot()
        await batch(args.warmup, args.requests)
        await gateway.ledger.aflush()
        end, end_types = snapshot()
    finally:
        await server.close()
    after = args.requests - args.warmup
    stats = end.compare_to(warm, "traceback")
    grown = sum(s.size_diff for s in stats)
    print(f"{after:,} requests after a warm-up of {args.warmup:,} (in process; errors: "
          f"{dict(errors) or 'none'}): Python memory {grown / MB:+.2f} MB "
          f"({grown / after:+.1f} B/request); biggest growth by allocation site:")
    for stat in sorted(stats, key=lambda s: -s.size_diff)[:8]:
        frames = [f for f in stat.traceback if "/sluicegate/" in f.filename] or list(
            stat.traceback)
        where = frames[-1]
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+8,} blocks  "
              f"{where.filename.split('/src/')[-1]}:{where.lineno}")
    print("objects by type, growth:")
    for name, n in sorted(((t, end_types[t] - warm_types[t]) for t in end_types),
                          key=lambda x: -x[1])[:8]:
        print(f"  {n:+9,} {name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sluicegate-obsmem-") as tmp:
        if args.tracemalloc:
            return asyncio.run(trace(args, Path(tmp)))
        return asyncio.run(measure(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
