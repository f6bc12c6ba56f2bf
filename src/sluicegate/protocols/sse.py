"""Server-sent events: an incremental parser for upstream streams and a frame encoder.

The parser is deliberately tiny: it sits on the hot path of every streamed
call, sees only well-formed provider streams, and must hand each event on the
moment its blank line arrives rather than after a read buffer fills. What it
holds is bounded, though: an event (its lines so far, and a line not yet ended)
may take ``max_event_bytes`` of the stream, so that an upstream that never ends
a line or an event cannot take the gateway's memory. It is checked once per
chunk fed, from positions in the chunk rather than by counting each line, so
it costs a comparison a chunk and is passed by at most one chunk.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

# Far above any real event (a chunk of tokens, a tool call's arguments).
MAX_EVENT_BYTES = 8 * 1024 * 1024


class EventTooLarge(Exception):
    """An event grew past ``limit`` bytes before its blank line."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an event is larger than {limit} bytes")
        self.limit = limit


class SSEEvent(msgspec.Struct):
    event: str | None
    data: str


class SSEParser:
    """Feed bytes as they arrive; iterate complete events (WHATWG rules, no retry/id)."""

    __slots__ = ("_buffer", "_data", "_event", "_held", "_max")

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []
        self._held = 0  # bytes of the event being read in chunks fed before
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> Iterator[SSEEvent]:
        """The events ``chunk`` completes; :class:`EventTooLarge` once one is over the bound."""
        buffer = self._buffer + chunk if self._buffer else chunk
        start = 0
        begun = 0  # where in buffer the event being read began (0: before it)
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
                begun = start
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
        self._buffer = buffer = buffer[start:]
        self._held = held = start - begun if begun else self._held + start
        if held + len(buffer) > self._max:
            raise EventTooLarge(self._max)

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
