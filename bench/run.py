"""Sluicegate's benchmark: what the gateway costs on top of the call it relays.

A fixed nginx upstream (shared/bench/upstream.nginx.conf) answers chat completions
in microseconds, so everything measured above it is the cost of whatever sits in
between. wrk (shared/bench/chat.lua) drives, in one run:

- nginx direct: the floor of the machine and of wrk itself;
- a bare aiohttp pass-through (bench/passthrough.py): the floor of the HTTP stack;
- Sluicegate with auth, limits and the SQLite ledger on (bench/gateway.yaml);
- optionally LiteLLM's proxy (``--litellm``), the usual point of comparison.

For each: c=1 p50 latency (what one caller waits) and c=32 requests/s (what one
process sustains). Then, on Sluicegate only: streaming throughput and an SSE
relay check (events arrive as separate events, usage carried), and RSS sampled
over 100k requests (no per-request leak). Absolute numbers depend on the box;
the goals are ratios to the pass-through and differences to nginx direct,
measured in the same run. Nothing is pinned to CPUs: wrk and the servers share
the machine's cores, as they do in the reference figures.

Exit status is non-zero when a goal fails or any wrk run saw non-2xx responses
or socket errors (``--no-fail`` only reports). Results: bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results" / "latest.json"
LITELLM_VENV = BENCH_DIR / ".litellm-venv"
API_KEY = "sk-bench"
# LiteLLM refuses to start without a master key and rejects weak ones.
LITELLM_KEY = "sk-litellm-bench-" + "0123456789abcdef" * 2
NGINX_PORT, PASSTHROUGH_PORT, GATEWAY_PORT, LITELLM_PORT = 18080, 18081, 18082, 18083
MB = 1024 * 1024


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """How long and what to measure (flags, with environment defaults)."""

    targets: tuple[str, ...]
    warmup_s: float
    c1_s: float
    c32_s: float
    connections: int
    memory_requests: int
    no_fail: bool
    litellm: bool
    shared: Path
    # The gateway's storage: a postgresql:// URL (migrated here), or None for SQLite in the
    # scratch dir; and whether its ledger records anything (storage.ledger).
    storage_url: str | None = None
    ledger: bool = True


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def parse_options(argv: list[str] | None = None) -> Options:
    """Command line -> Options. ``--quick`` shortens every run to 2 s (warm-up 1 s)."""
    p = argparse.ArgumentParser(description="Sluicegate benchmark (see module docstring).")
    p.add_argument(
        "--targets",
        default=os.environ.get("BENCH_TARGETS", "nginx,passthrough,sluicegate"),
        help="comma-separated subset of nginx,passthrough,sluicegate,litellm",
    )
    p.add_argument("--quick", action="store_true", help="2 s runs, 20k-request memory phase")
    p.add_argument("--warmup", type=float, default=_env_float("BENCH_WARMUP_S", 2))
    p.add_argument("--c1-seconds", type=float, default=_env_float("BENCH_C1_S", 5))
    p.add_argument("--c32-seconds", type=float, default=_env_float("BENCH_C32_S", 10))
    p.add_argument("--connections", type=int, default=int(os.environ.get("BENCH_CONNS", 32)))
    p.add_argument(
        "--memory-requests",
        type=int,
        default=None,
        help="requests in the RSS phase (default 100000; 20000 with --quick)",
    )
    p.add_argument("--no-fail", action="store_true", help="report only; always exit 0")
    p.add_argument(
        "--cache",
        action="store_true",
        help="also measure response-cache hits against uncacheable misses (target 'cache')",
    )
    p.add_argument(
        "--storage-url",
        default=os.environ.get("BENCH_STORAGE_URL"),
        help="run the gateway on this postgresql:// database (default: SQLite in a temp dir)",
    )
    p.add_argument(
        "--no-ledger",
        action="store_true",
        help="run the gateway phase with storage.ledger: false (nothing recorded)",
    )
    p.add_argument(
        "--ledger-cost",
        action="store_true",
        help="also measure throughput with the ledger on against off (target 'ledger')",
    )
    p.add_argument(
        "--prompts",
        action="store_true",
        help="also measure throughput with a stored prompt rendered on every request against "
        "the same requests without one (target 'prompts')",
    )
    p.add_argument(
        "--litellm",
        action="store_true",
        help="also measure LiteLLM proxy (creates bench/.litellm-venv if missing)",
    )
    a = p.parse_args(argv)
    targets = tuple(t.strip() for t in a.targets.split(",") if t.strip())
    if a.cache and "cache" not in targets:
        targets += ("cache",)
    if a.ledger_cost and "ledger" not in targets:
        targets += ("ledger",)
    if a.prompts and "prompts" not in targets:
        targets += ("prompts",)
    known = {"nginx", "passthrough", "sluicegate", "litellm", "cache", "ledger", "prompts"}
    unknown = set(targets) - known
    if unknown:
        p.error(f"unknown targets: {', '.join(sorted(unknown))}")
    if a.litellm and "litellm" not in targets:
        targets += ("litellm",)
    memory = a.memory_requests or (20_000 if a.quick else 100_000)
    return Options(
        targets=targets,
        warmup_s=1 if a.quick else a.warmup,
        c1_s=2 if a.quick else a.c1_seconds,
        c32_s=2 if a.quick else a.c32_seconds,
        connections=a.connections,
        memory_requests=memory,
        no_fail=a.no_fail,
        litellm="litellm" in targets,
        shared=shared_dir(),
        storage_url=a.storage_url,
        ledger=not a.no_ledger,
    )


def shared_dir() -> Path:
    """shared/bench: ``$SLUICEGATE_BENCH_SHARED`` or ``../shared/bench`` from the repo root."""
    path = Path(os.environ.get("SLUICEGATE_BENCH_SHARED", REPO_ROOT.parent / "shared" / "bench"))
    for name in ("upstream.nginx.conf", "chat.lua"):
        if not (path / name).is_file():
            sys.exit(f"bench: {path / name} not found (set SLUICEGATE_BENCH_SHARED)")
    return path.resolve()


# --------------------------------------------------------------------------- tools


def ensure_tools() -> None:
    """nginx and wrk on PATH; installs them with apt-get when missing and root."""
    os.environ["PATH"] += os.pathsep + "/usr/sbin:/sbin"  # nginx lives in sbin
    missing = [t for t in ("nginx", "wrk") if shutil.which(t) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(
            f"bench: {', '.join(missing)} not found; install them: "
            "sudo apt-get install -y nginx-light wrk"
        )
    print(f"bench: installing {', '.join(missing)} with apt-get", flush=True)
    apt_env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=apt_env)
    subprocess.run(["apt-get", "install", "-y", "nginx-light", "wrk"], check=True, env=apt_env)
    still = [t for t in ("nginx", "wrk") if shutil.which(t) is None]
    if still:
        sys.exit(f"bench: {', '.join(still)} still missing after apt-get install")


def tool_versions() -> dict[str, str]:
    """Version strings recorded with the results."""
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return {
        "nginx": nginx,
        "wrk": (wrk.stdout + wrk.stderr).splitlines()[0].strip(),
        "python": sys.version.split()[0],
    }


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    """A server this run started, with its combined stdout/stderr log."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


class Processes:
    """Every server this run starts, each in its own session, stopped on exit."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._procs: list[Proc] = []
        self._logs: list[IO[bytes]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        log = self.workdir / f"{name}.log"
        fh = log.open("wb")
        self._logs.append(fh)
        popen = subprocess.Popen(
            argv,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.workdir,
            start_new_session=True,
        )
        proc = Proc(name, popen, log)
        self._procs.append(proc)
        return proc

    def stop(self, proc: Proc, timeout: float = 15) -> None:
        """SIGTERM the process group we created for it, SIGKILL if it lingers."""
        if proc.popen.poll() is None:
            _signal_group(proc.popen.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(5)
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self._procs)):
            self.stop(proc)
        for fh in self._logs:
            fh.close()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)  # start_new_session=True: the group id is the child's pid


def _interrupt(signum: int, frame: types.FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_ready(
    proc: Proc, port: int, timeout: float = 60, ready: Callable[[], bool] | None = None
) -> None:
    """Until the port answers (or ``ready()`` says so); fails fast if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        if port_open(port) or (ready is not None and ready()):
            return
        time.sleep(0.1)
    raise BenchError(
        f"{proc.name} not ready on port {port} after {timeout:.0f}s:\n{proc.log_tail()}"
    )


def check_ports_free(ports: list[int]) -> None:
    busy = [p for p in ports if port_open(p)]
    if busy:
        raise BenchError(f"ports already in use: {busy} (another bench or server running?)")


class BenchError(Exception):
    """A setup step failed; the message says which and shows the server's log."""


# --------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    """One wrk run, parsed."""

    label: str
    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    non_2xx: int
    socket_errors: int
    raw: str = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.non_2xx == 0 and self.socket_errors == 0 and self.requests > 0


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_P50 = re.compile(r"^\s*50%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_REQUESTS = re.compile(r"^\s*(\d+) requests in", re.M)
_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(raw: str, label: str, connections: int, seconds: float) -> WrkResult:
    """wrk's text report -> WrkResult (p50 in ms; error counts 0 when wrk omits them)."""
    p50, rps, reqs = _P50.search(raw), _RPS.search(raw), _REQUESTS.search(raw)
    if not (p50 and rps and reqs):
        raise BenchError(f"cannot parse wrk output for {label}:\n{raw}")
    non2xx = _NON2XX.search(raw)
    sock = _SOCKET.search(raw)
    return WrkResult(
        label=label,
        connections=connections,
        seconds=seconds,
        requests=int(reqs.group(1)),
        rps=float(rps.group(1)),
        p50_ms=float(p50.group(1)) * _UNITS_MS[p50.group(2)],
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
        raw=raw,
    )


@dataclass(frozen=True)
class Target:
    """An endpoint wrk drives with chat.lua."""

    key: str
    label: str
    url: str
    model: str = "fast"
    stream: bool = False
    api_key: str = API_KEY


def run_wrk(
    target: Target,
    lua: Path,
    connections: int,
    seconds: float,
    extra_env: dict[str, str] | None = None,
) -> WrkResult:
    """One wrk run (one thread) against the target; loud if it saw errors."""
    env = (
        os.environ
        | {
            "BENCH_KEY": target.api_key,
            "BENCH_MODEL": target.model,
            "BENCH_STREAM": "1" if target.stream else "0",
        }
        | (extra_env or {})
    )
    seconds = max(1, math.ceil(seconds))  # wrk takes whole seconds only
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(lua),
        target.url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 120)
    if done.returncode != 0:
        raise BenchError(f"wrk failed for {target.label}: {done.stderr or done.stdout}")
    result = parse_wrk(done.stdout, target.label, connections, seconds)
    if not result.ok:
        print(
            f"\n!!! {target.label} c={connections}: {result.non_2xx} non-2xx responses, "
            f"{result.socket_errors} socket errors, {result.requests} requests\n"
            f"{done.stdout}",
            flush=True,
        )
    return result


@dataclass
class TargetResult:
    """c=1 latency and c=32 throughput for one target."""

    key: str
    label: str
    c1: WrkResult
    cn: WrkResult


def measure(target: Target, lua: Path, opts: Options) -> TargetResult:
    """Warm-up, then c=1 for p50 latency, then c=N for requests/s."""
    print(
        f"bench: {target.label}: warm-up {opts.warmup_s:g}s, c=1 {opts.c1_s:g}s, "
        f"c={opts.connections} {opts.c32_s:g}s",
        flush=True,
    )
    run_wrk(target, lua, opts.connections, opts.warmup_s)
    c1 = run_wrk(target, lua, 1, opts.c1_s)
    cn = run_wrk(target, lua, opts.connections, opts.c32_s)
    print(f"bench:   p50 {c1.p50_ms:.3f} ms, {cn.rps:,.0f} req/s", flush=True)
    return TargetResult(target.key, target.label, c1, cn)


# --------------------------------------------------------------------------- requests

CHAT_BODY: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Say hello in one short sentence, please."},
    ],
    "max_tokens": 32,
}
EXPECTED_TEXT = "Hello! How can I help you today?"


def smoke(target: Target) -> None:
    """One request before measuring, so a broken target fails with its answer shown."""
    body = json.dumps({"model": target.model, **CHAT_BODY}).encode()
    req = urllib.request.Request(
        target.url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {target.api_key}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as e:
        raise BenchError(f"{target.label}: HTTP {e.code}: {e.read()[:500]!r}") from e
    text = answer.get("choices", [{}])[0].get("message", {}).get("content")
    if text != EXPECTED_TEXT:
        raise BenchError(f"{target.label}: unexpected answer {answer!r}")


@dataclass
class StreamCheck:
    """What one streamed request through the gateway looked like on the wire."""

    ok: bool
    problems: list[str]
    data_events: int
    content_events: int
    text: str
    usage: dict[str, Any] | None
    reads: int
    ttfb_ms_p50: float
    total_ms_p50: float


async def _stream_once(session: aiohttp.ClientSession, url: str) -> tuple[bytes, int, float, float]:
    """POST one streamed chat; the body, the number of reads, TTFB and total in ms."""
    body = {
        "model": "stream",
        "stream": True,
        "stream_options": {"include_usage": True},
        **CHAT_BODY,
    }
    start = time.perf_counter()
    first = 0.0
    chunks: list[bytes] = []
    async with session.post(url, json=body, headers={"Authorization": f"Bearer {API_KEY}"}) as resp:
        if resp.status != 200 or not resp.content_type.startswith("text/event-stream"):
            text = await resp.text()
            raise BenchError(f"stream: HTTP {resp.status} {resp.content_type}: {text[:500]}")
        async for chunk in resp.content.iter_any():
            if not chunks:
                first = time.perf_counter()
            chunks.append(chunk)
    end = time.perf_counter()
    return b"".join(chunks), len(chunks), (first - start) * 1000, (end - start) * 1000


def inspect_sse(raw: bytes) -> tuple[list[str], list[dict[str, Any]], bool]:
    """Split an SSE body into data payloads; the JSON chunks and whether it ended in [DONE]."""
    datas = [
        line[5:].strip()
        for block in raw.decode().replace("\r\n", "\n").split("\n\n")
        for line in block.split("\n")
        if line.startswith("data:")
    ]
    done = bool(datas) and datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas if d != "[DONE]"]
    return datas, chunks, done


def judge_stream(raw: bytes, reads: int, ttfb: list[float], total: list[float]) -> StreamCheck:
    """The upstream sends 3 content chunks + a usage chunk + [DONE]: all must come through
    as separate events (not merged into one), with the text and usage intact."""
    datas, chunks, done = inspect_sse(raw)
    content = [
        c for c in chunks for ch in c.get("choices", []) if (ch.get("delta") or {}).get("content")
    ]
    text = "".join(
        ch["delta"]["content"]
        for c in content
        for ch in c["choices"]
        if (ch.get("delta") or {}).get("content")
    )
    usage = next((c["usage"] for c in chunks if c.get("usage")), None)
    problems = []
    if not done:
        problems.append("stream does not end with data: [DONE]")
    if len(content) < 3:
        problems.append(f"{len(content)} content events (upstream sent 3): merged or lost")
    if text != EXPECTED_TEXT:
        problems.append(f"text {text!r} != {EXPECTED_TEXT!r}")
    if not usage or usage.get("prompt_tokens") != 12 or usage.get("completion_tokens") != 9:
        problems.append(f"usage not carried through: {usage!r}")
    return StreamCheck(
        ok=not problems,
        problems=problems,
        data_events=len(datas),
        content_events=len(content),
        text=text,
        usage=usage,
        reads=reads,
        ttfb_ms_p50=statistics.median(ttfb),
        total_ms_p50=statistics.median(total),
    )


async def check_stream(url: str, repeats: int = 50) -> StreamCheck:
    """Streamed requests one at a time: the first is inspected, all are timed."""
    ttfb: list[float] = []
    total: list[float] = []
    first: tuple[bytes, int] | None = None
    async with aiohttp.ClientSession() as session:
        for _ in range(repeats):
            try:
                raw, reads, t1, t2 = await _stream_once(session, url)
            except (BenchError, aiohttp.ClientError, ValueError) as e:
                return StreamCheck(
                    ok=False,
                    problems=[f"{type(e).__name__}: {e}"],
                    data_events=0,
                    content_events=0,
                    text="",
                    usage=None,
                    reads=0,
                    ttfb_ms_p50=0.0,
                    total_ms_p50=0.0,
                )
            first = first or (raw, reads)
            ttfb.append(t1)
            total.append(t2)
    assert first is not None
    return judge_stream(first[0], first[1], ttfb, total)


# --------------------------------------------------------------------------- memory


def rss_bytes(pid: int) -> int:
    """VmRSS of the process and all its descendants (in case the gateway forks workers)."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except FileNotFoundError:
            continue
    return total


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


COUNTED_LUA = """-- chat.lua plus a response counter: each thread stops after BENCH_LIMIT responses.
dofile("{chat}")
local limit = tonumber(os.getenv("BENCH_LIMIT") or "0")
local count = 0
function response(status, headers, body)
  count = count + 1
  if limit > 0 and count >= limit then wrk.thread:stop() end
end
"""


@dataclass
class MemoryPhase:
    """RSS of the gateway sampled after every quarter of the requests."""

    idle_mb: float
    samples: list[tuple[int, float]]  # (requests so far, RSS MB)
    errors: int


def memory_phase(
    proc: Proc, target: Target, workdir: Path, opts: Options, rps: float
) -> MemoryPhase:
    """Drive ``opts.memory_requests`` requests, sampling RSS after every quarter."""
    lua = workdir / "counted.lua"
    lua.write_text(COUNTED_LUA.format(chat=opts.shared / "chat.lua"))
    quarter = opts.memory_requests // 4
    idle = rss_bytes(proc.popen.pid) / MB
    samples: list[tuple[int, float]] = []
    served = errors = 0
    print(
        f"bench: memory: {opts.memory_requests:,} requests, RSS sampled every {quarter:,}",
        flush=True,
    )
    for k in range(1, 5):
        while served < k * quarter:
            r = drive(target, lua, opts.connections, k * quarter - served, rps)
            served += r.requests
            errors += r.non_2xx + r.socket_errors
        samples.append((served, rss_bytes(proc.popen.pid) / MB))
        print(f"bench:   {served:,} requests: RSS {samples[-1][1]:.1f} MB", flush=True)
    return MemoryPhase(idle_mb=idle, samples=samples, errors=errors)


def drive(target: Target, lua: Path, connections: int, count: int, rps: float) -> WrkResult:
    """About ``count`` requests: wrk stops its thread at ``count`` responses but only exits
    when ``-d`` runs out, so ``-d`` is sized from the measured rate with some slack."""
    seconds = count / max(rps, 1.0) * 1.25 + 1
    return run_wrk(target, lua, connections, seconds, {"BENCH_LIMIT": str(count)})


# --------------------------------------------------------------------------- servers


def start_nginx(procs: Processes, opts: Options) -> None:
    prefix = procs.workdir / "nginx"  # under /tmp; the conf's pid and error log go to /tmp
    prefix.mkdir()
    conf = opts.shared / "upstream.nginx.conf"
    proc = procs.start("nginx", ["nginx", "-c", str(conf), "-p", str(prefix)])
    wait_ready(proc, NGINX_PORT, timeout=15)


def start_passthrough(procs: Processes) -> Proc:
    proc = procs.start(
        "passthrough",
        [sys.executable, str(BENCH_DIR / "passthrough.py"), "--port", str(PASSTHROUGH_PORT)],
    )
    wait_ready(proc, PASSTHROUGH_PORT)
    return proc


def start_gateway(
    procs: Processes,
    *,
    storage_url: str | None = None,
    ledger: bool = True,
    port: int = GATEWAY_PORT,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> Proc:
    """``sluicegate serve`` from this venv, ledger in a fresh temp dir; ready on its URL line.

    ``storage_url`` (postgresql://...) puts tenants and the ledger there, migrated
    first; ``ledger=False`` runs with ``storage.ledger: false``; ``port`` other than
    the usual one gets a scratch dir of its own (two gateways side by side); ``edit``
    changes the configuration (bench/gateway.yaml, parsed) before it is used.
    """
    exe = Path(sys.executable).parent / "sluicegate"
    db_dir = Path(procs.workdir) / ("ledger" if port == GATEWAY_PORT else f"ledger-{port}")
    db_dir.mkdir(exist_ok=True)  # the cache phase starts a second gateway
    url = storage_url or f"sqlite:///{db_dir}/bench.db"
    env = os.environ | {"SLUICEGATE_BENCH_DB": url}
    config = BENCH_DIR / "gateway.yaml"
    if storage_url is not None or not ledger or edit is not None:
        import yaml

        data = yaml.safe_load(config.read_text())
        data["storage"] = {**data["storage"], "ledger": ledger, "spool_dir": str(db_dir / "spool")}
        if edit is not None:
            edit(data)
        config = db_dir / "gateway.yaml"
        config.write_text(yaml.safe_dump(data))
    if storage_url is not None:
        subprocess.run([str(exe), "migrate", "--url", storage_url], check=True, env=env)
    proc = procs.start(
        "sluicegate" if port == GATEWAY_PORT else f"sluicegate-{port}",
        [
            str(exe),
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
        ],
        env=env,
    )
    wait_ready(proc, port, ready=lambda: "http://" in proc.log.read_text(errors="replace"))
    wait_ready(proc, port)  # the URL line may come just before the socket is bound
    return proc


LITELLM_CONFIG = """model_list:
  - model_name: fast
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:18080/json/v1
      api_key: sk-upstream-bench
general_settings:
  master_key: {key}
"""


def ensure_litellm() -> Path:
    """The LiteLLM proxy executable, installing litellm[proxy] into its own venv once."""
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.exists():
        print("bench: installing litellm[proxy] into bench/.litellm-venv", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        (LITELLM_VENV / ".gitignore").write_text("*\n")  # keeps git and ruff out of it
        subprocess.run(
            [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True
        )
    return exe


def start_litellm(procs: Processes) -> Proc:
    config = procs.workdir / "litellm.yaml"
    config.write_text(LITELLM_CONFIG.format(key=LITELLM_KEY))
    env = os.environ | {"LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = procs.start(
        "litellm",
        [
            str(ensure_litellm()),
            "--config",
            str(config),
            "--port",
            str(LITELLM_PORT),
            "--num_workers",
            "1",
        ],
        env=env,
    )
    wait_ready(proc, LITELLM_PORT, timeout=180)
    return proc


# --------------------------------------------------------------------------- goals


@dataclass
class Goal:
    name: str
    value: str
    goal: str
    passed: bool


def evaluate(
    results: dict[str, TargetResult],
    stream: StreamCheck | None,
    memory: MemoryPhase | None,
    stream_wrk: WrkResult | None,
    ratios: list[float] | None = None,
) -> list[Goal]:
    """The pass/fail lines: every wrk run clean, plus the gateway's goals when measured."""
    goals = [
        Goal(
            f"{r.label}: no errors",
            f"{r.c1.non_2xx + r.cn.non_2xx} non-2xx, "
            f"{r.c1.socket_errors + r.cn.socket_errors} socket errors",
            "0",
            r.c1.ok and r.cn.ok,
        )
        for r in results.values()
    ]
    gw, pt, direct = (results.get(k) for k in ("sluicegate", "passthrough", "nginx"))
    if ratios:
        ratio = statistics.median(ratios)
        shown = ", ".join(f"{r:.2f}" for r in ratios)
        goals.append(
            Goal(
                "throughput sluicegate/passthrough (median of interleaved rounds)",
                f"{ratio:.2f} ({shown})",
                ">= 0.6",
                ratio >= 0.6,
            )
        )
    elif gw and pt:
        ratio = gw.cn.rps / pt.cn.rps
        goals.append(
            Goal("throughput sluicegate/passthrough", f"{ratio:.2f}", ">= 0.6", ratio >= 0.6)
        )
    if gw and direct:
        added = gw.c1.p50_ms - direct.c1.p50_ms
        goals.append(
            Goal("added p50 over nginx direct", f"{added:.3f} ms", "<= 0.5 ms", added <= 0.5)
        )
    if stream_wrk:
        goals.append(
            Goal(
                "stream wrk: no errors",
                f"{stream_wrk.non_2xx} non-2xx, {stream_wrk.socket_errors} socket errors",
                "0",
                stream_wrk.ok,
            )
        )
    if stream:
        goals.append(
            Goal(
                "SSE relay: separate events, text and usage intact",
                "; ".join(stream.problems)
                or f"{stream.content_events} content + {stream.data_events} data events",
                "all",
                stream.ok,
            )
        )
    if memory:
        goals += memory_goals(memory)
    return goals


def memory_goals(m: MemoryPhase) -> list[Goal]:
    peak = max(mb for _, mb in m.samples)
    first, last = m.samples[0][1], m.samples[-1][1]
    bound = first * 1.10 + 5
    return [
        Goal("memory phase: no errors", str(m.errors), "0", m.errors == 0),
        Goal("gateway RSS peak", f"{peak:.1f} MB", "<= 150 MB", peak <= 150),
        Goal(
            "gateway RSS flat",
            f"{first:.1f} -> {last:.1f} MB",
            f"last <= {bound:.1f} MB (first*1.10+5)",
            last <= bound,
        ),
    ]


# --------------------------------------------------------------------------- report


def print_report(
    results: dict[str, TargetResult],
    stream_wrk: WrkResult | None,
    stream: StreamCheck | None,
    memory: MemoryPhase | None,
    goals: list[Goal],
    connections: int,
) -> None:
    rows = [(r.label, f"{r.c1.p50_ms:.3f}", f"{r.cn.rps:,.0f}") for r in results.values()]
    if stream_wrk:
        rows.append(("sluicegate, streamed (alias stream)", "-", f"{stream_wrk.rps:,.0f}"))
    head = ("target", "c=1 p50 ms", f"c={connections} req/s")
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(3)]
    print(f"\n{os.cpu_count()} CPUs, nothing pinned: wrk (1 thread) and the servers share them.")
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(
            " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print_context(results, stream, memory)
    print()
    for g in goals:
        print(f"{'PASS' if g.passed else 'FAIL'}  {g.name}: {g.value} (goal {g.goal})")


def print_context(
    results: dict[str, TargetResult], stream: StreamCheck | None, memory: MemoryPhase | None
) -> None:
    gw, pt = results.get("sluicegate"), results.get("passthrough")
    print()
    if gw and pt:
        print(f"sluicegate p50 - passthrough p50: {gw.c1.p50_ms - pt.c1.p50_ms:.3f} ms")
    lite = results.get("litellm")
    if gw and lite:
        print(f"sluicegate/litellm throughput: {gw.cn.rps / lite.cn.rps:.1f}x")
    if stream:
        print(
            f"SSE: {stream.data_events} data events in {stream.reads} network reads; "
            f"TTFB p50 {stream.ttfb_ms_p50:.3f} ms, total p50 {stream.total_ms_p50:.3f} ms"
        )
    if memory:
        trail = ", ".join(f"{n // 1000}k: {mb:.1f}" for n, mb in memory.samples)
        print(f"sluicegate RSS MB: idle {memory.idle_mb:.1f}; {trail}")


def write_json(
    opts: Options,
    results: dict[str, TargetResult],
    stream_wrk: WrkResult | None,
    stream: StreamCheck | None,
    memory: MemoryPhase | None,
    goals: list[Goal],
) -> None:
    def run(r: WrkResult) -> dict[str, Any]:
        return {k: v for k, v in asdict(r).items() if k != "raw"}

    doc = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "tools": tool_versions(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
        "targets": {
            k: {"label": r.label, "c1": run(r.c1), "cn": run(r.cn)} for k, r in results.items()
        },
        "stream_wrk": run(stream_wrk) if stream_wrk else None,
        "stream_check": asdict(stream) if stream else None,
        "memory": asdict(memory) if memory else None,
        "goals": [asdict(g) for g in goals],
        "passed": all(g.passed for g in goals),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nresults: {RESULTS.relative_to(REPO_ROOT)}")


# --------------------------------------------------------------------------- main


TARGETS = {
    "nginx": Target(
        "nginx", "nginx direct", f"http://127.0.0.1:{NGINX_PORT}/json/v1/chat/completions"
    ),
    "passthrough": Target(
        "passthrough",
        "aiohttp pass-through",
        f"http://127.0.0.1:{PASSTHROUGH_PORT}/v1/chat/completions",
    ),
    "sluicegate": Target(
        "sluicegate",
        "sluicegate (auth, limits, ledger)",
        f"http://127.0.0.1:{GATEWAY_PORT}/v1/chat/completions",
    ),
    "litellm": Target(
        "litellm",
        "litellm proxy, 1 worker",
        f"http://127.0.0.1:{LITELLM_PORT}/v1/chat/completions",
        api_key=LITELLM_KEY,
    ),
}


@dataclass
class Run:
    """Everything one benchmark run measured."""

    results: dict[str, TargetResult] = field(default_factory=dict)
    stream_wrk: WrkResult | None = None
    stream: StreamCheck | None = None
    memory: MemoryPhase | None = None
    # gateway/pass-through throughput from back-to-back rounds: on a shared
    # 2-core machine the speed drifts between runs, and a ratio of neighbours
    # is steadier than a ratio of two runs minutes apart.
    ratios: list[float] = field(default_factory=list)
    cache: CachePhase | None = None
    ledger: LedgerPhase | None = None
    prompts: PromptsPhase | None = None


ROUNDS = 3


def interleaved_ratios(lua: Path, opts: Options) -> list[float]:
    """c=N throughput of the gateway over the pass-through's, in alternating rounds."""
    ratios = []
    for n in range(ROUNDS):
        print(f"bench: interleaved round {n + 1}/{ROUNDS}", flush=True)
        pt = run_wrk(TARGETS["passthrough"], lua, opts.connections, opts.c32_s)
        gw = run_wrk(TARGETS["sluicegate"], lua, opts.connections, opts.c32_s)
        ratios.append(gw.rps / pt.rps)
    return ratios


def bench_gateway(procs: Processes, opts: Options, run: Run) -> None:
    """Throughput and latency, then streaming, the SSE check and the memory phase."""
    lua = opts.shared / "chat.lua"
    proc = start_gateway(procs, storage_url=opts.storage_url, ledger=opts.ledger)
    target = TARGETS["sluicegate"]
    smoke(target)
    run.results["sluicegate"] = measure(target, lua, opts)
    if "passthrough" in run.results:
        run.ratios = interleaved_ratios(lua, opts)
    streamed = Target("sluicegate-stream", "sluicegate, streamed", target.url, "stream", True)
    print(f"bench: streaming: c={opts.connections} {opts.c32_s:g}s", flush=True)
    run.stream_wrk = run_wrk(streamed, lua, opts.connections, opts.c32_s)
    run.stream = asyncio.run(check_stream(target.url))
    run.memory = memory_phase(proc, target, procs.workdir, opts, run.results["sluicegate"].cn.rps)
    procs.stop(proc)


def bench_all(procs: Processes, opts: Options) -> Run:
    """nginx up, then each target in turn (each server stopped once measured)."""
    lua = opts.shared / "chat.lua"
    run = Run()
    start_nginx(procs, opts)
    smoke(TARGETS["nginx"])
    if "nginx" in opts.targets:
        run.results["nginx"] = measure(TARGETS["nginx"], lua, opts)
    passthrough = None
    if "passthrough" in opts.targets:
        passthrough = start_passthrough(procs)
        smoke(TARGETS["passthrough"])
        run.results["passthrough"] = measure(TARGETS["passthrough"], lua, opts)
    if "sluicegate" in opts.targets:
        bench_gateway(procs, opts, run)
    if passthrough is not None:
        procs.stop(passthrough)
    if "cache" in opts.targets:
        run.cache = cache_phase(procs, opts)
    if "ledger" in opts.targets:
        run.ledger = ledger_phase(procs, opts)
    if "prompts" in opts.targets:
        run.prompts = prompts_phase(procs, opts)
    if "litellm" in opts.targets:
        proc = start_litellm(procs)
        smoke(TARGETS["litellm"])
        run.results["litellm"] = measure(TARGETS["litellm"], lua, opts)
        procs.stop(proc)
    return run


# --------------------------------------------------------------------------- cache


@dataclass
class CachePair:
    """Hits against misses on one upstream, in interleaved rounds."""

    upstream: str
    hits: list[WrkResult]
    misses: list[WrkResult]

    @property
    def ratios(self) -> list[float]:
        return [h.rps / m.rps for h, m in zip(self.hits, self.misses, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


@dataclass
class CachePhase:
    """Response-cache hits against misses, c=N, in interleaved rounds on one gateway.

    A miss is the plain request (cache mode auto, no temperature: never looked
    up, so today's path); a hit is the same body on an alias with cache mode
    always, stored by the warm-up. Twice: behind the nginx upstream, which
    answers in microseconds, so the ratio is the gateway's own cost with and
    without the upstream call; and behind bench/slow_upstream.py answering in
    ``SLOW_UPSTREAM_MS``, a stand-in for a (very fast) model, where a miss waits
    as it would in production.
    """

    instant: CachePair
    slow: CachePair


CACHE_ROUNDS = 5
CACHE_GOAL = 3.0
SLOW_UPSTREAM_PORT = 18084
SLOW_UPSTREAM_MS = 20


def cache_pair(
    label: str, miss: Target, hit: Target, lua: Path, opts: Options
) -> CachePair:
    smoke(miss)
    smoke(hit)  # stores the answer
    run_wrk(miss, lua, opts.connections, opts.warmup_s)
    run_wrk(hit, lua, opts.connections, opts.warmup_s)
    pair = CachePair(label, [], [])
    for n in range(CACHE_ROUNDS):
        pair.misses.append(run_wrk(miss, lua, opts.connections, opts.c32_s))
        pair.hits.append(run_wrk(hit, lua, opts.connections, opts.c32_s))
        print(
            f"bench: cache ({label}) round {n + 1}/{CACHE_ROUNDS}: miss "
            f"{pair.misses[-1].rps:,.0f} req/s, hit {pair.hits[-1].rps:,.0f} req/s "
            f"({pair.hits[-1].rps / pair.misses[-1].rps:.2f}x)",
            flush=True,
        )
    print(
        f"bench: cache ({label}): hit/miss throughput at c={opts.connections}, median of "
        f"{CACHE_ROUNDS} interleaved rounds: {pair.ratio:.2f}x "
        f"({', '.join(f'{r:.2f}' for r in pair.ratios)}); "
        f"hit p50 {statistics.median(h.p50_ms for h in pair.hits):.3f} ms",
        flush=True,
    )
    return pair


def cache_phase(procs: Processes, opts: Options) -> CachePhase:
    lua = opts.shared / "chat.lua"
    slow = procs.start(
        "slow-upstream",
        [
            sys.executable,
            str(BENCH_DIR / "slow_upstream.py"),
            "--port",
            str(SLOW_UPSTREAM_PORT),
            "--delay-ms",
            str(SLOW_UPSTREAM_MS),
        ],
    )
    wait_ready(slow, SLOW_UPSTREAM_PORT)
    proc = start_gateway(procs)
    url = TARGETS["sluicegate"].url

    def pair(label: str, miss_alias: str, hit_alias: str) -> CachePair:
        miss = Target(f"cache-miss-{miss_alias}", "cache miss", url, miss_alias)
        hit = Target(f"cache-hit-{hit_alias}", "cache hit", url, hit_alias)
        return cache_pair(label, miss, hit, lua, opts)

    phase = CachePhase(
        instant=pair("nginx upstream", "fast", "cached"),
        slow=pair(f"{SLOW_UPSTREAM_MS} ms upstream", "slow", "cached-slow"),
    )
    procs.stop(proc)
    procs.stop(slow)
    RESULTS.parent.mkdir(exist_ok=True)
    (RESULTS.parent / "cache.json").write_text(
        json.dumps(
            {
                "connections": opts.connections,
                **{
                    name: {
                        "upstream": p.upstream,
                        "ratio_median": p.ratio,
                        "ratios": p.ratios,
                        "hit_rps": [h.rps for h in p.hits],
                        "miss_rps": [m.rps for m in p.misses],
                    }
                    for name, p in (("instant", phase.instant), ("slow", phase.slow))
                },
            },
            indent=2,
        )
    )
    return phase


def cache_goals(phase: CachePhase | None) -> list[Goal]:
    if phase is None:
        return []
    runs = [r for p in (phase.instant, phase.slow) for r in p.hits + p.misses]
    return [
        Goal(
            "cache: no errors",
            f"{sum(r.non_2xx for r in runs)} non-2xx, {sum(r.socket_errors for r in runs)} "
            "socket errors",
            "0",
            all(r.ok for r in runs),
        ),
        *(
            Goal(
                f"cache hit / miss throughput, {p.upstream} (median of interleaved rounds)",
                f"{p.ratio:.2f}",
                f">= {CACHE_GOAL:g}",
                p.ratio >= CACHE_GOAL,
            )
            for p in (phase.slow, phase.instant)
        ),
    ]


# --------------------------------------------------------------------------- ledger


@dataclass
class LedgerPhase:
    """c=N throughput of two gateways side by side, one with the ledger on and one with
    ``storage.ledger: false``, measured in alternating runs.

    Neighbouring runs see the same machine, so their ratio is what recording every
    request costs on this storage (SQLite, or PostgreSQL with ``--storage-url``; the
    database server shares the machine's cores, so its work counts too).
    """

    storage: str
    on: list[WrkResult]
    off: list[WrkResult]
    # The gateway process's own CPU time per request (user + system), in microseconds:
    # steadier than throughput on a machine others share, but blind to the database's work.
    on_cpu_us: list[float] = field(default_factory=list)
    off_cpu_us: list[float] = field(default_factory=list)

    @property
    def costs(self) -> list[float]:
        return [1 - a.rps / b.rps for a, b in zip(self.on, self.off, strict=True)]

    @property
    def cost(self) -> float:
        return statistics.median(self.costs)

    @property
    def cpu_cost(self) -> float:
        """1 - off/on CPU per request: the throughput lost if the gateway is CPU-bound."""
        return 1 - statistics.median(self.off_cpu_us) / statistics.median(self.on_cpu_us)


LEDGER_ROUNDS = 5
LEDGER_GOAL = 0.10
LEDGER_OFF_PORT = 18084


def ledger_phase(procs: Processes, opts: Options) -> LedgerPhase:
    lua = opts.shared / "chat.lua"
    storage = "postgresql" if opts.storage_url else "sqlite"
    check_ports_free([LEDGER_OFF_PORT])
    on_proc = start_gateway(procs, storage_url=opts.storage_url, ledger=True)
    off_proc = start_gateway(
        procs, storage_url=opts.storage_url, ledger=False, port=LEDGER_OFF_PORT
    )
    on_target = TARGETS["sluicegate"]
    off_target = Target(
        "sluicegate-no-ledger",
        "sluicegate, storage.ledger: false",
        f"http://127.0.0.1:{LEDGER_OFF_PORT}/v1/chat/completions",
    )
    for target in (on_target, off_target):
        smoke(target)
        run_wrk(target, lua, opts.connections, opts.warmup_s)
    phase = LedgerPhase(storage, [], [])
    for n in range(LEDGER_ROUNDS):
        run_round(
            n,
            (
                Arm(on_target, lua, on_proc, phase.on, phase.on_cpu_us),
                Arm(off_target, lua, off_proc, phase.off, phase.off_cpu_us),
            ),
            opts,
        )
        print(
            f"bench: ledger round {n + 1}/{LEDGER_ROUNDS} ({storage}): on "
            f"{phase.on[-1].rps:,.0f} req/s {phase.on_cpu_us[-1]:.0f} us CPU/request, off "
            f"{phase.off[-1].rps:,.0f} req/s {phase.off_cpu_us[-1]:.0f} us "
            f"(cost {phase.costs[-1]:.1%})",
            flush=True,
        )
    procs.stop(on_proc)
    procs.stop(off_proc)
    print(
        f"bench: ledger cost on {storage} at c={opts.connections}, median of {LEDGER_ROUNDS} "
        f"interleaved rounds: throughput {phase.cost:.1%} "
        f"({', '.join(f'{c:.1%}' for c in phase.costs)}); gateway CPU per request "
        f"{statistics.median(phase.on_cpu_us):.0f} us on, "
        f"{statistics.median(phase.off_cpu_us):.0f} us off ({phase.cpu_cost:.1%})",
        flush=True,
    )
    return phase


@dataclass
class Arm:
    """One side of an A/B: what wrk drives, and where its results go."""

    target: Target
    lua: Path
    proc: Proc
    runs: list[WrkResult]
    cpu_us: list[float]  # the serving process's CPU time per request, in microseconds


def run_round(n: int, arms: tuple[Arm, Arm], opts: Options) -> None:
    """Round ``n`` of an A/B: one c=N run of each arm, A first in even rounds and B first
    in odd ones, so that a drift in the machine's speed cancels out."""
    for arm in arms if n % 2 == 0 else arms[::-1]:
        before = cpu_seconds(arm.proc.popen.pid)
        result = run_wrk(arm.target, arm.lua, opts.connections, opts.c32_s)
        arm.runs.append(result)
        arm.cpu_us.append(
            (cpu_seconds(arm.proc.popen.pid) - before) / max(result.requests, 1) * 1e6
        )


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ledger_goals(phase: LedgerPhase | None) -> list[Goal]:
    if phase is None:
        return []
    runs = phase.on + phase.off
    return [
        Goal(
            "ledger: no errors",
            f"{sum(r.non_2xx for r in runs)} non-2xx, {sum(r.socket_errors for r in runs)} "
            "socket errors",
            "0",
            all(r.ok for r in runs),
        ),
        Goal(
            f"ledger cost on {phase.storage}: 1 - on/off throughput (median of rounds)",
            f"{phase.cost:.1%}",
            f"<= {LEDGER_GOAL:.0%}",
            phase.cost <= LEDGER_GOAL,
        ),
        Goal(
            f"ledger cost on {phase.storage}: gateway CPU per request, 1 - off/on",
            f"{phase.cpu_cost:.1%}",
            f"<= {LEDGER_GOAL:.0%}",
            phase.cpu_cost <= LEDGER_GOAL,
        ),
    ]


# --------------------------------------------------------------------------- prompts

PROMPT_ROUNDS = 5
PROMPT_GOAL = 0.05
BENCH_ADMIN_KEY = "sk-admin-bench"
# The stored prompt every request of the prompt runs renders: a system message with two
# variables (one from a default), checked against a schema, labelled production.
BENCH_PROMPT: dict[str, Any] = {
    "name": "bench-greeting",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant for {{ product }}. "
         "Answer in {{ language }}."}
    ],
    "variables": {
        "type": "object",
        "required": ["product"],
        "properties": {"product": {"type": "string"},
                       "language": {"type": "string", "default": "English"}},
    },
}
PROMPT_LUA = """-- chat.lua's request, naming a stored prompt instead of sending a system message.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"fast","prompt":{"name":"bench-greeting","variables":{"product":"Acme"}},'
  .. '"messages":[{"role":"user","content":"Say hello in one short sentence, please."}],'
  .. '"max_tokens":32}'
"""


@dataclass
class PromptsPhase:
    """c=N throughput of one gateway on the same request with and without a stored
    prompt rendered into it, in alternating runs (neighbouring runs see the same machine)."""

    plain: list[WrkResult]
    prompted: list[WrkResult]
    plain_cpu_us: list[float] = field(default_factory=list)
    prompted_cpu_us: list[float] = field(default_factory=list)

    @property
    def costs(self) -> list[float]:
        return [1 - a.rps / b.rps for a, b in zip(self.prompted, self.plain, strict=True)]

    @property
    def cost(self) -> float:
        return statistics.median(self.costs)

    @property
    def cpu_cost(self) -> float:
        return 1 - statistics.median(self.plain_cpu_us) / statistics.median(self.prompted_cpu_us)


def prompts_phase(procs: Processes, opts: Options) -> PromptsPhase:
    plain_lua = opts.shared / "chat.lua"
    prompt_lua = Path(procs.workdir) / "prompt.lua"
    prompt_lua.write_text(PROMPT_LUA)
    proc = start_gateway(procs, storage_url=opts.storage_url, ledger=opts.ledger)
    push_bench_prompt()
    target = TARGETS["sluicegate"]
    for lua in (plain_lua, prompt_lua):
        run_wrk(target, lua, opts.connections, opts.warmup_s)
    phase = PromptsPhase([], [])
    for n in range(PROMPT_ROUNDS):
        run_round(
            n,
            (
                Arm(target, plain_lua, proc, phase.plain, phase.plain_cpu_us),
                Arm(target, prompt_lua, proc, phase.prompted, phase.prompted_cpu_us),
            ),
            opts,
        )
        print(
            f"bench: prompts round {n + 1}/{PROMPT_ROUNDS}: without {phase.plain[-1].rps:,.0f} "
            f"req/s {phase.plain_cpu_us[-1]:.0f} us CPU/request, with "
            f"{phase.prompted[-1].rps:,.0f} req/s {phase.prompted_cpu_us[-1]:.0f} us "
            f"(cost {phase.costs[-1]:.1%})",
            flush=True,
        )
    procs.stop(proc)
    print(
        f"bench: a stored prompt on every request at c={opts.connections}, median of "
        f"{PROMPT_ROUNDS} interleaved rounds: throughput {phase.cost:.1%} "
        f"({', '.join(f'{c:.1%}' for c in phase.costs)}); gateway CPU per request "
        f"{statistics.median(phase.plain_cpu_us):.0f} us without, "
        f"{statistics.median(phase.prompted_cpu_us):.0f} us with ({phase.cpu_cost:.1%})",
        flush=True,
    )
    return phase


def push_bench_prompt(port: int = GATEWAY_PORT) -> None:
    """Store the bench prompt through the admin API and label it production."""
    from sluicegate.admin.client import AdminClient

    admin = AdminClient(f"http://127.0.0.1:{port}", BENCH_ADMIN_KEY)
    path = f"/admin/prompts/{BENCH_PROMPT['name']}"
    admin.call("POST", f"{path}/versions", BENCH_PROMPT)
    admin.call("PUT", f"{path}/labels/production", {"version": 1})


def prompts_goals(phase: PromptsPhase | None) -> list[Goal]:
    if phase is None:
        return []
    runs = phase.plain + phase.prompted
    return [
        Goal(
            "prompts: no errors",
            f"{sum(r.non_2xx for r in runs)} non-2xx, {sum(r.socket_errors for r in runs)} "
            "socket errors",
            "0",
            all(r.ok for r in runs),
        ),
        Goal(
            "prompt on every request: 1 - with/without throughput (median of rounds)",
            f"{phase.cost:.1%}",
            f"<= {PROMPT_GOAL:.0%}",
            phase.cost <= PROMPT_GOAL,
        ),
    ]


@contextlib.contextmanager
def processes() -> Iterator[Processes]:
    """A scratch dir and the servers started in it; all stopped however the run ends."""
    # SIGINT too: a shell starting us in the background would have it ignored.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    with tempfile.TemporaryDirectory(prefix="sluicegate-bench-") as tmp:
        procs = Processes(Path(tmp))
        try:
            yield procs
        finally:
            procs.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)
    ensure_tools()
    ports = [NGINX_PORT, PASSTHROUGH_PORT, GATEWAY_PORT, LITELLM_PORT]
    try:
        check_ports_free(ports)
        with processes() as procs:
            run = bench_all(procs, opts)
    except BenchError as e:
        print(f"\nbench: FAILED: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nbench: interrupted; servers stopped", file=sys.stderr)
        return 130
    goals = evaluate(run.results, run.stream, run.memory, run.stream_wrk, run.ratios)
    goals += cache_goals(run.cache)
    goals += ledger_goals(run.ledger)
    goals += prompts_goals(run.prompts)
    print_report(run.results, run.stream_wrk, run.stream, run.memory, goals, opts.connections)
    write_json(opts, run.results, run.stream_wrk, run.stream, run.memory, goals)
    if all(g.passed for g in goals):
        return 0
    print("\nbench: some goals FAILED" + (" (--no-fail: exit 0)" if opts.no_fail else ""))
    return 0 if opts.no_fail else 1


if __name__ == "__main__":
    sys.exit(main())
