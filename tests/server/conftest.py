"""A gateway served the way ``sluicegate serve`` serves it, and a raw HTTP/1.1 client.

The server tests talk to a real socket, on :class:`GatewayRunner` with its
defaults (aiohttp's TestServer adds settings of its own), and mostly through
raw sockets: slow heads, trickled bodies and malformed header lines are what
an HTTP client library will not send.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from sluicegate.app import create_app
from sluicegate.config.loader import validate_config
from sluicegate.gateway import Gateway
from sluicegate.server.protocol import GatewayRunner

KEY = "sk-server-tests-0123456789"


def echo_config(server: dict[str, Any] | None = None, **blocks: Any) -> dict[str, Any]:
    """The echo provider as alias ``echo``, one tenant with :data:`KEY`."""
    return {
        "server": server or {},
        "providers": [{"name": "e", "type": "echo"}],
        "models": [{"name": "echo", "targets": [{"provider": "e", "model": "echo-1"}]}],
        "tenants": [{"name": "acme", "keys": [{"name": "k", "key": KEY}]}],
        **blocks,
    }


@dataclass
class Served:
    gateway: Gateway
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def connect(self) -> Raw:
        return Raw(*await asyncio.open_connection(self.host, self.port))

    def records(self) -> list[dict[str, Any]]:
        return self.gateway.ledger.records(limit=100)

    async def record(self, timeout: float = 10.0) -> dict[str, Any]:
        """The first ledger record, waiting for it to be written."""
        deadline = time.monotonic() + timeout
        while not (records := self.records()):
            assert time.monotonic() < deadline, "no ledger record was written"
            await asyncio.sleep(0.05)
        return records[-1]


ServeFactory = Callable[[dict[str, Any]], Awaitable[Served]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[ServeFactory]:
    """``await serve(config)``: a gateway on GatewayRunner, on a free port."""
    runners: list[web.AppRunner] = []

    async def start(config: dict[str, Any]) -> Served:
        config = {**config, "storage": {"url": f"sqlite:///{tmp_path}/gw{len(runners)}.db"}}
        gateway = Gateway(validate_config(config))
        runner = GatewayRunner(create_app(gateway), access_log=None, shutdown_timeout=1)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return Served(gateway, host, port)

    yield start
    for runner in runners:
        await runner.cleanup()


def request_head(
    path: str = "/v1/chat/completions",
    *,
    length: int | None = None,
    headers: dict[str, str] | None = None,
    extra: bytes = b"",
) -> bytes:
    """A request head as bytes; ``extra`` is put in as is (a malformed line, say)."""
    lines = [f"POST {path} HTTP/1.1", "Host: gateway", f"Authorization: Bearer {KEY}",
             "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return "\r\n".join(lines).encode() + b"\r\n" + extra + b"\r\n"


def chat_body(**fields: Any) -> bytes:
    return orjson.dumps(
        {"model": "echo", "messages": [{"role": "user", "content": "hi there"}], **fields}
    )


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Raw:
    """One client connection, bytes in and out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, timeout: float = 10.0) -> Response:
        """The next response, with a Content-Length body (1xx interim ones included)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout)
        return Response(int(status_line.split()[1]), headers, body)

    async def closed_after(self, timeout: float, *, since: float | None = None) -> float:
        """Seconds from ``since`` (a ``time.monotonic()``; default: now) until the
        server closed the connection, reading and dropping whatever it sent;
        fails if it is still open ``timeout`` seconds from now."""
        started = time.monotonic() if since is None else since
        try:
            while await asyncio.wait_for(self.reader.read(65536), timeout):
                pass
        except ConnectionResetError:
            pass
        return time.monotonic() - started

    def close(self) -> None:
        self.writer.close()
