"""Load for ledger tests: gateway processes, clients that remember what they received,
and a TCP proxy that can cut a database off and bring it back.

What a client "received" is the ground truth the ledger is checked against: a
request counts as complete only when its whole answer arrived (a 200 with its
JSON body, or a stream through ``data: [DONE]``), with the usage it showed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import yaml

KEY = "sk-ledger-test-key"
ADMIN_KEY = "ledger-admin-secret"


def echo_config(storage: dict[str, Any]) -> dict[str, Any]:
    """One tenant on the built-in echo provider (no upstream needed), priced so costs add up."""
    return {
        "server": {"host": "127.0.0.1", "port": 0, "admin_key": ADMIN_KEY, "drain_timeout_s": 5},
        "storage": storage,
        "providers": [{"name": "echo", "type": "echo"}],
        "models": [
            {
                "name": "echo",
                "targets": [{"provider": "echo", "model": "echo-1"}],
                "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
            }
        ],
        "tenants": [{"name": "acme", "keys": [{"name": "ci", "key": KEY}]}],
    }


# -- clients ----------------------------------------------------------------------


@dataclass
class Received:
    """Complete answers by x-request-id: (input_tokens, output_tokens) as the client saw them."""

    complete: dict[str, tuple[int, int]] = field(default_factory=dict)
    failed: int = 0

    @property
    def input_tokens(self) -> int:
        return sum(i for i, _ in self.complete.values())

    @property
    def output_tokens(self) -> int:
        return sum(o for _, o in self.complete.values())


async def ask(http: aiohttp.ClientSession, url: str, n: int, got: Received, key: str = KEY) -> None:
    """One chat request (every third one streamed); records it in ``got`` if it completed."""
    stream = n % 3 == 0
    body: dict[str, Any] = {
        "model": "echo",
        "messages": [{"role": "user", "content": f"request {n} " + "word " * (n % 7)}],
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    try:
        async with http.post(
            f"{url}/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        ) as resp:
            request_id = resp.headers.get("x-request-id", "")
            if resp.status != 200:
                got.failed += 1
                return
            if not stream:
                answer = await resp.json()
                usage = answer["usage"]
                got.complete[request_id] = (usage["prompt_tokens"], usage["completion_tokens"])
                return
            usage, done = None, False
            async for raw in resp.content:
                line = raw.strip()
                if line == b"data: [DONE]":
                    done = True
                elif line.startswith(b"data: "):
                    chunk = orjson.loads(line[6:])
                    if chunk.get("usage"):
                        usage = chunk["usage"]
            if done and usage is not None:
                got.complete[request_id] = (usage["prompt_tokens"], usage["completion_tokens"])
            else:
                got.failed += 1
    except (TimeoutError, aiohttp.ClientError, ValueError, KeyError):
        got.failed += 1


async def load(
    urls: list[str],
    requests: int,
    *,
    concurrency: int = 16,
    got: Received | None = None,
    deadline_s: float | None = None,
    stop: asyncio.Event | None = None,
) -> Received:
    """``requests`` requests spread over ``urls`` round-robin, ``concurrency`` at a time
    (stopping early at ``deadline_s`` seconds, or once ``stop`` is set)."""
    got = got if got is not None else Received()
    counter = iter(range(requests))
    stop_at = None if deadline_s is None else time.monotonic() + deadline_s
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency)
    ) as http:

        async def worker() -> None:
            for n in counter:
                if stop_at is not None and time.monotonic() > stop_at:
                    return
                if stop is not None and stop.is_set():
                    return
                await ask(http, urls[n % len(urls)], n, got)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return got


# -- gateway processes ------------------------------------------------------------


class GatewayProcess:
    """``sluicegate serve --config`` in a child process, its output in a log file."""

    def __init__(self, config: dict[str, Any], workdir: Path, name: str = "gw") -> None:
        self.config = config
        self.workdir = workdir
        self.name = name
        self.url = ""
        self.proc: asyncio.subprocess.Process | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / f"{name}.log"

    async def start(self, timeout_s: float = 30.0) -> str:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child writes it; closed below
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sluicegate.cli", "serve", "--config", str(self.config_path),
                cwd=self.workdir, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            ready = [line for line in text.splitlines() if "ready on http://" in line]
            if ready:
                self.url = ready[-1].split("ready on ", 1)[1].split()[0]
                return self.url
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        await self.kill()
        raise AssertionError(f"{self.name} did not start:\n{self.log_path.read_text()}")

    async def kill(self) -> None:
        """SIGKILL: no draining, no shutdown hooks; what a crash does."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


# -- reading the ledger directly ----------------------------------------------------


async def ledger_rows(url: str) -> list[tuple[str, int, int]]:
    """(request_id, input_tokens, output_tokens) of every ledger row, straight from the DB."""
    sql = "SELECT request_id, input_tokens, output_tokens FROM ledger"
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url[len("sqlite:///") :])) as conn:
            return [tuple(r) for r in conn.execute(sql)]  # type: ignore[misc]
    conn = await asyncpg.connect(url)
    try:
        return [(r[0], r[1], r[2]) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def wait_for_ledger(url: str, expected: int, timeout_s: float = 20.0) -> list[Any]:
    """The ledger's rows once it holds at least ``expected`` of them (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    rows = await ledger_rows(url)
    while len(rows) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        rows = await ledger_rows(url)
    return rows


def check_ledger(rows: list[tuple[str, int, int]], got: Received) -> dict[str, int]:
    """Compare the ledger with what clients received; returns the figures to print."""
    by_request: dict[str, list[tuple[int, int]]] = {}
    for request_id, inp, out in rows:
        by_request.setdefault(request_id, []).append((inp, out))
    twice = sum(1 for v in by_request.values() if len(v) > 1)
    missing = [rid for rid in got.complete if rid not in by_request]
    mismatched = [
        rid for rid, tokens in got.complete.items()
        if rid in by_request and by_request[rid][0] != tokens
    ]
    return {
        "complete": len(got.complete),
        "failed": got.failed,
        "ledger_rows": len(rows),
        "missing": len(missing),
        "twice": twice,
        "token_mismatches": len(mismatched),
    }


# -- a TCP proxy between the gateway and its database ------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a server; ``cut()`` drops every connection and refuses
    new ones until ``restore()``, as a network partition or a database restart would."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.cut_off = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.transport.abort()
            self._writers.discard(dst)


def with_port(url: str, port: int) -> str:
    """``url`` pointed at 127.0.0.1:``port`` (same user and database)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{port}"))


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))
