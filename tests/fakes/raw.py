"""A raw HTTP/1.1 server: the exact bytes a test chooses, on a real socket.

For what an aiohttp fake cannot send, or would tidy up: framing (lengths,
chunks, close-delimited bodies), redirects, compressed bombs, cut connections
and silence.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from yarl import URL

Reply = Callable[[bytes], Awaitable[bytes | None]]


class RawServer:
    """Reads one request at a time per connection and writes what ``reply`` returns
    (None: close the connection without answering)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = await self.reply(request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(
    reply: Reply, path: str = "/v1/chat/completions?api-version=1"
) -> AsyncIterator[tuple[RawServer, URL]]:
    """A :class:`RawServer` on 127.0.0.1, and the URL of ``path`` on it."""
    server = RawServer(reply)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield server, URL(f"http://127.0.0.1:{port}{path}")
    finally:
        listener.close()
        await listener.wait_closed()


def ok(body: bytes = b'{"ok":true}', extra: bytes = b"") -> bytes:
    """A 200 JSON answer with ``body``; ``extra``: more header lines, each ending in CRLF."""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


async def always(answer: bytes) -> bytes:
    return answer
