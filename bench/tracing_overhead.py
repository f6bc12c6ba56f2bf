"""What tracing costs the gateway, in instructions per request (valgrind's callgrind).

The harness of bench/instructions.py: ``sluicegate serve`` on bench/gateway.yaml
under callgrind, behind the nginx upstream of bench/run.py; after a warm-up the
counters are zeroed, ``--requests`` requests are sent at ``--concurrency``,
then the gateway is left idle for ``--settle`` seconds so that its export
thread sends what it queued, and the count is dumped. Callgrind counts every
thread, so the batch export (protobuf encoding, the HTTP POSTs) is in the
figure. Two runs:

- tracing off (no ``observability`` block: no span work on the request path);
- tracing on at 100% sampling (``sample_ratio: 1.0``), exporting for real over
  OTLP/HTTP to a local receiver (a child process of this script that decodes
  every ``ExportTraceServiceRequest`` and counts the spans).

Printed: instructions per request of each, their ratio, and the spans the
receiver got (two a request: SERVER and CLIENT). The goal: at most 10% more
at 100% sampling.

    PYTHONHASHSEED=1 .venv/bin/python bench/tracing_overhead.py [--requests 400] [--stream]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import instructions as harness
import run as bench

RECEIVER_PORT = 18194


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--settle", type=float, default=2.0,
                   help="seconds the gateway idles after the requests, for its exports")
    p.add_argument("--stream", action="store_true", help="streamed requests (alias stream)")
    p.add_argument("--sample-ratios", default="1.0",
                   help="comma-separated sample_ratio values to measure beside tracing off")
    p.add_argument("--child", choices=["receiver"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "receiver":
        _receiver(RECEIVER_PORT)
        return
    bench.ensure_tools()
    bench.check_ports_free([bench.NGINX_PORT, harness.GATEWAY_PORT, RECEIVER_PORT])
    body = harness.CHAT_STREAMED if args.stream else harness.CHAT
    opts = bench.parse_options([])
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="sluicegate-trace-") as tmp:
        procs = bench.Processes(Path(tmp))
        try:
            bench.start_nginx(procs, opts)
            receiver = procs.start(
                "otlp-receiver", [sys.executable, str(Path(__file__).resolve()),
                                  "--child", "receiver"])
            bench.wait_ready(receiver, RECEIVER_PORT)
            runs: list[tuple[str, dict[str, Any] | None]] = [("tracing off", None)]
            for ratio in (float(r) for r in args.sample_ratios.split(",")):
                runs.append((
                    f"tracing on, {ratio:.0%} sampled, exported",
                    {"otlp_endpoint": f"http://127.0.0.1:{RECEIVER_PORT}", "sample_ratio": ratio},
                ))
            for label, observability in runs:
                figures[label] = _measure(
                    procs, Path(tmp), label, observability, args.requests, args.concurrency,
                    args.settle, body,
                )
            spans = asyncio.run(_received())
        finally:
            procs.stop_all()
    off = figures["tracing off"]
    width = max(len(label) for label in figures)
    what = "streamed" if args.stream else "non-streamed"
    print(f"\ninstructions per request (callgrind, {args.requests} {what} requests):")
    for label, count in figures.items():
        ratio = "" if count is off else f"  x{count / off:.3f} ({(count / off - 1) * 100:+.1f}%)"
        print(f"  {label:<{width}}  {count / 1e6:6.3f} M{ratio}")
    print("  goal: at most +10% at 100% sampling")
    print(f"  spans the receiver got: {spans} (2 a measured request, plus the warm-up's)")


def _measure(
    procs: bench.Processes,
    tmp: Path,
    label: str,
    observability: dict[str, Any] | None,
    n: int,
    concurrency: int,
    settle: float,
    body: bytes,
) -> float:
    import yaml

    config = yaml.safe_load((bench.BENCH_DIR / "gateway.yaml").read_text())
    if observability is not None:
        config["observability"] = observability
    tag = abs(hash(label)) % 10_000
    path = tmp / f"gateway-{tag}.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp / f"callgrind.{tag}"
    env = os.environ | {
        "SLUICEGATE_BENCH_DB": f"sqlite:///{tmp}/bench-{tag}.db",
        # Exports every 200 ms rather than every 5 s: all of them inside the settle time.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    exe = str(Path(sys.executable).parent / "sluicegate")
    proc = procs.start(
        f"callgrind-{tag}",
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         exe, "serve", "--config", str(path), "--port", str(harness.GATEWAY_PORT)],
        env=env,
    )
    bench.wait_ready(proc, harness.GATEWAY_PORT, timeout=180)
    url = f"http://127.0.0.1:{harness.GATEWAY_PORT}/v1/chat/completions"
    asyncio.run(harness._drive(url, 200, concurrency, body))  # warm-up
    time.sleep(settle)
    harness._control("-z", proc.popen.pid)
    asyncio.run(harness._drive(url, n, concurrency, body))
    time.sleep(settle)  # both runs idle as long: the export thread's work is counted
    count = harness._dumped(out, proc.popen.pid) / n
    procs.stop(proc)
    print(f"bench: {label}: {count / 1e6:.3f} M instructions a request", flush=True)
    return count


async def _received() -> int:
    async with aiohttp.ClientSession() as session, session.get(
        f"http://127.0.0.1:{RECEIVER_PORT}/count"
    ) as resp:
        return int(await resp.text())


def _receiver(port: int) -> None:
    """An OTLP/HTTP trace receiver that decodes what it gets and counts the spans."""
    from aiohttp import web
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    spans = 0
    answer = ExportTraceServiceResponse().SerializeToString()

    async def traces(request: web.Request) -> web.Response:
        nonlocal spans
        message = ExportTraceServiceRequest.FromString(await request.read())
        spans += sum(len(s.spans) for r in message.resource_spans for s in r.scope_spans)
        return web.Response(body=answer, content_type="application/x-protobuf")

    async def count(request: web.Request) -> web.Response:
        return web.Response(text=str(spans))

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", traces)
    app.router.add_get("/count", count)
    web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=True)


if __name__ == "__main__":
    main()
