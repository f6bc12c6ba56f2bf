"""Where a request's CPU goes, in instructions (valgrind's callgrind), not seconds.

Throughput on a shared 2-core VM moves by 10-20% between runs; instruction
counts do not, so this is how a change to the request path is judged before
the timed benchmark (bench/run.py) confirms it. Each server runs under
callgrind behind the nginx upstream of bench/run.py; after a warm-up the
counters are zeroed, ``--requests`` requests are sent at ``--concurrency``,
and the count is dumped. Printed per request:

- aiohttp server alone (answers from memory): the server half of the stack;
- the bare pass-through (bench/passthrough.py): server plus aiohttp client;
- Sluicegate on bench/gateway.yaml (auth, limits, SQLite ledger);
- Sluicegate's pipeline and egress in process, with a canned upstream answer
  (no HTTP at all): the gateway's own work.

The ratio pass-through / Sluicegate estimates the c=32 throughput ratio
bench/run.py measures (it leaves out the kernel's share). Needs valgrind.

    .venv/bin/python bench/instructions.py [--requests 400] [--concurrency 16] [--keep DIR]
    .venv/bin/python bench/instructions.py --only gateway [--stream | --prompt]
    .venv/bin/python bench/instructions.py --only gateway --log-format json

``--log-format json`` runs the gateway on bench/gateway.yaml plus ``log_format:
json`` (one access line a request, written by the log thread, whose
instructions callgrind counts with the rest): the A/B of the access log's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

SERVER_ONLY_PORT, PASSTHROUGH_PORT, GATEWAY_PORT = 18191, 18192, 18193
CHAT = (
    b'{"model":"fast","messages":[{"role":"system","content":"You are a helpful assistant."},'
    b'{"role":"user","content":"Say hello in one short sentence, please."}],"max_tokens":32}'
)
# The same question naming a stored prompt (bench/run.py's BENCH_PROMPT) for its system text.
CHAT_PROMPTED = (
    b'{"model":"fast","prompt":{"name":"bench-greeting","variables":{"product":"Acme"}},'
    b'"messages":[{"role":"user","content":"Say hello in one short sentence, please."}],'
    b'"max_tokens":32}'
)
# The same question streamed, through the alias whose upstream answers in SSE.
CHAT_STREAMED = CHAT.replace(b'"model":"fast"', b'"model":"stream","stream":true')
# What the nginx upstream answers (shared/bench/upstream.nginx.conf), for the in-process run.
CANNED = (
    b'{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,'
    b'"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant",'
    b'"content":"Hello! How can I help you today?"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}'
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument(
        "--only",
        choices=["gateway", "pipeline"],
        help="measure only Sluicegate behind nginx, or only its pipeline in process (an A/B "
        "of a change to the request path)",
    )
    p.add_argument(
        "--stream",
        action="store_true",
        help="with --only gateway: streamed requests (alias stream, 6 SSE events an answer)",
    )
    p.add_argument(
        "--prompt",
        action="store_true",
        help="with --only gateway: every request renders a stored prompt (bench/run.py's)",
    )
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="the gateway's log_format (json: an access line a request)",
    )
    p.add_argument(
        "--keep",
        type=Path,
        help="copy the callgrind dumps here, for callgrind_annotate (where the instructions go)",
    )
    p.add_argument("--child", choices=["server-only", "pipeline"], help=argparse.SUPPRESS)
    p.add_argument("--child-prompt", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if (args.stream or args.prompt) and not args.only:
        p.error("--stream and --prompt need --only gateway")
    if args.child == "server-only":
        _server_only(args.port)
        return
    if args.child == "pipeline":
        asyncio.run(_pipeline(args.requests, prompt=args.child_prompt))
        return
    if args.only == "pipeline":
        if args.stream:
            p.error("--stream needs --only gateway")
        with tempfile.TemporaryDirectory(prefix="sluicegate-instr-") as tmp:
            count = _pipeline_instructions(Path(tmp), args.requests, prompt=args.prompt)
        what = "with a stored prompt" if args.prompt else "without a prompt"
        print(f"\ninstructions per request (callgrind, {args.requests} requests, {what}):")
        print(f"  sluicegate pipeline, in process  {count / 1e6:6.3f} M")
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench: valgrind not found (apt-get install valgrind)")
    bench.ensure_tools()
    # Fixed ports: a server of another run already on one would be measured instead.
    bench.check_ports_free(
        [bench.NGINX_PORT, GATEWAY_PORT]
        + ([] if args.only else [SERVER_ONLY_PORT, PASSTHROUGH_PORT])
    )
    opts = bench.parse_options([])
    with tempfile.TemporaryDirectory(prefix="sluicegate-instr-") as tmp:
        procs = bench.Processes(Path(tmp))
        try:
            bench.start_nginx(procs, opts)
            figures = _measure_all(
                procs,
                Path(tmp),
                args.requests,
                args.concurrency,
                gateway_only=bool(args.only),
                body=CHAT_STREAMED if args.stream else CHAT_PROMPTED if args.prompt else CHAT,
                prompt=args.prompt,
                log_format=args.log_format,
            )
        finally:
            procs.stop_all()
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for dump in Path(tmp).glob("callgrind.*.1"):
                shutil.copy(dump, args.keep / dump.name)
    width = max(len(label) for label in figures)
    print(f"\ninstructions per request (callgrind, {args.requests} requests):")
    for label, count in figures.items():
        print(f"  {label:<{width}}  {count / 1e6:6.3f} M")
    if "bare pass-through" in figures:
        passthrough, gateway = figures["bare pass-through"], figures["sluicegate"]
        ratio = passthrough / gateway
        print(f"\npass-through / sluicegate: {ratio:.2f} (throughput ratio estimate)")


def _measure_all(
    procs: bench.Processes,
    tmp: Path,
    n: int,
    c: int,
    *,
    gateway_only: bool = False,
    body: bytes = CHAT,
    prompt: bool = False,
    log_format: str = "text",
) -> dict[str, float]:
    here = str(Path(__file__).resolve())
    gateway_yaml = bench.BENCH_DIR / "gateway.yaml"
    if log_format != "text":
        gateway_yaml = tmp / "gateway.yaml"
        text = (bench.BENCH_DIR / "gateway.yaml").read_text()
        gateway_yaml.write_text(f"{text}\nlog_format: {log_format}\n")
    gateway_env = os.environ | {"SLUICEGATE_BENCH_DB": f"sqlite:///{tmp}/bench.db"}
    exe = str(Path(sys.executable).parent / "sluicegate")
    servers = {
        "aiohttp server alone": (
            [sys.executable, here, "--child", "server-only", "--port", str(SERVER_ONLY_PORT)],
            SERVER_ONLY_PORT,
            None,
        ),
        "bare pass-through": (
            [sys.executable, str(bench.BENCH_DIR / "passthrough.py"),
             "--port", str(PASSTHROUGH_PORT)],
            PASSTHROUGH_PORT,
            None,
        ),
        "sluicegate": (
            [exe, "serve", "--config", str(gateway_yaml),
             "--port", str(GATEWAY_PORT)],
            GATEWAY_PORT,
            gateway_env,
        ),
    }
    if gateway_only:
        servers = {"sluicegate": servers["sluicegate"]}
    figures: dict[str, float] = {}
    for label, (argv, port, env) in servers.items():
        out = tmp / f"callgrind.{port}"
        proc = procs.start(
            f"callgrind-{port}",
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
            env=env,
        )
        bench.wait_ready(proc, port, timeout=180)
        if prompt:
            bench.push_bench_prompt(port)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        asyncio.run(_drive(url, 200, c, body))  # warm-up: imports, first connections, caches
        _control("-z", proc.popen.pid)
        asyncio.run(_drive(url, n, c, body))
        figures[label] = _dumped(out, proc.popen.pid) / n
        procs.stop(proc)
        print(f"bench: {label}: {figures[label] / 1e6:.3f} M instructions a request", flush=True)
    if gateway_only:
        return figures
    figures["sluicegate pipeline, in process"] = _pipeline_instructions(tmp, n)
    return figures


def _pipeline_instructions(tmp: Path, n: int, *, prompt: bool = False) -> float:
    """Instructions a request of the in-process pipeline (no HTTP, no timers run)."""
    out = tmp / "callgrind.pipeline"
    env = os.environ | {"SLUICEGATE_BENCH_DB": f"sqlite:///{tmp}/bench.db"}
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         sys.executable, str(Path(__file__).resolve()), "--child", "pipeline",
         "--requests", str(n), *(["--child-prompt"] if prompt else [])],
        check=True, capture_output=True, env=env,
    )
    return _summary(Path(f"{out}.1")) / n


async def _drive(url: str, n: int, concurrency: int, body: bytes = CHAT) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {bench.API_KEY}"}
    left = n

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    raise bench.BenchError(f"{url} answered {resp.status}")

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))


def _control(flag: str, pid: int) -> None:
    subprocess.run(["callgrind_control", flag, str(pid)], check=True, capture_output=True)


def _dumped(out: Path, pid: int) -> float:
    _control("-d", pid)
    dump = Path(f"{out}.1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if dump.exists() and "summary:" in dump.read_text(errors="replace"):
            return _summary(dump)
        time.sleep(0.2)
    raise bench.BenchError(f"callgrind wrote no dump to {dump}")


def _summary(dump: Path) -> float:
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("summary:"):
            return float(line.split()[1])
    raise bench.BenchError(f"no summary line in {dump}")


def _server_only(port: int) -> None:
    """An aiohttp server that answers from memory: the server half of the stack."""
    import orjson
    import uvloop
    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        orjson.loads(await request.read())  # a proxy must look at the body
        return web.Response(body=CANNED, content_type="application/json")

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    uvloop.run(serve())


async def _pipeline(n: int, *, prompt: bool = False) -> None:
    """The gateway's pipeline and egress with the upstream call answered from memory."""
    from multidict import CIMultiDict

    from sluicegate.config.loader import load_config
    from sluicegate.gateway import Gateway
    from sluicegate.pipeline import Request
    from sluicegate.protocols.wire import OPENAI
    from sluicegate.providers.http import HttpClient
    from sluicegate.providers.transport import Answer
    from sluicegate.serve import _tune_gc
    from sluicegate.server.respond import send_chat

    answer_headers = CIMultiDict({"Content-Type": "application/json"})

    async def canned(*_: object, **__: object) -> Answer:
        return Answer(200, CANNED, answer_headers)

    HttpClient.fetch = canned  # type: ignore[method-assign]
    config = load_config(bench.BENCH_DIR / "gateway.yaml")
    if prompt:
        from sluicegate.config.schema import PromptsConfig

        # Nothing here yields to the loop, so the registry's poll never runs: its index is
        # current (no other process writes) and must not be refused as unconfirmed.
        config = config.model_copy(update={"prompts": PromptsConfig(max_staleness_s=1e9)})
    gateway = Gateway(config)
    await gateway.start()
    headers = CIMultiDict({"Content-Type": "application/json", "Authorization": "Bearer sk-bench"})

    if prompt:
        from sluicegate.prompts import PromptDocument

        document = PromptDocument.model_validate(bench.BENCH_PROMPT)
        await gateway.prompts.add_version(document, tenant_id=None)
        await gateway.prompts.move_label(document.name, "production", 1)
    chat = CHAT_PROMPTED if prompt else CHAT

    async def body() -> bytes:
        return chat

    async def one() -> None:
        request = Request.start(
            id=gateway.new_id(), request_id="req_" + gateway.new_id(), protocol="openai",
            operation="chat", headers=headers, runtime=gateway.runtime, receive=body,
            decode_body=OPENAI.decode_chat,
        )
        answer = await gateway.pipeline(request)
        response = await send_chat(None, OPENAI, request, answer)  # type: ignore[arg-type]
        if response.status != 200:
            raise bench.BenchError(f"pipeline answered {response.status}")

    for _ in range(200):
        await one()
    _tune_gc()
    _control("-z", os.getpid())
    for _ in range(n):
        await one()
    _control("-d", os.getpid())
    await gateway.close()


if __name__ == "__main__":
    main()
