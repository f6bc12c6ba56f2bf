"""Server-sent events: an incremental parser for upstream streams and a frame encoder.

The parser is deliberately tiny: it sits on the hot path of every streamed
call, sees only well-formed provider streams, and must hand each event on the
moment its blank line arrives rather than after a read buffer fills.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec


class SSEEvent(msgspec.Struct):
    event: str | None
    data: str


class SSEParser:
    """Feed bytes as they arrive; iterate complete events (WHATWG rules, no retry/id)."""

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[SSEEvent]:
        buffer = self._buffer + chunk if self._buffer else chunk
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            line = buffer[start:end]
            start = end + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data or self._event is not None:
                    yield SSEEvent(self._event, "\n".join(self._data))
                self._event = None
                self._data = []
                continue
            if line[0:1] == b":":
                continue  # comment / keep-alive
            name, sep, value = line.partition(b":")
            if sep and value[0:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data.append(value.decode())
            elif name == b"event":
                self._event = value.decode()
        self._buffer = buffer[start:]

    def close(self) -> Iterator[SSEEvent]:
        """Flush an event that the upstream ended without its blank line."""
        if self._buffer:
            yield from self.feed(b"\n")
        if self._data:
            yield SSEEvent(self._event, "\n".join(self._data))
            self._data = []


def frame(data: bytes, event: str | None = None) -> bytes:
    """Encode one SSE frame. ``data`` must not contain newlines (compact JSON never does)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
