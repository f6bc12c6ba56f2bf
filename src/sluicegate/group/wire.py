"""Framing for the supervisor's channels to its workers (Unix socket pairs).

Two framings, one per kind of traffic:

- ``Lines``: one JSON document per line, for the limiter channel, which
  carries a message per admission. orjson never writes a raw newline inside
  a document, so a newline ends one, and splitting a read on newlines is the
  cheapest parse Python offers.
- ``Frames``: a 4-byte big-endian length, then a pickle, for the control
  channel (metrics, reloads, readiness). Its messages are rare and carry
  Python objects (a validated ``Config``, metric samples) that JSON would
  need converters for. Pickle is safe here: both ends are this program's own
  processes, joined by a socket pair made before the fork that nothing else
  can reach.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

_LENGTH = struct.Struct(">I")


class Lines:
    """Splits a byte stream into newline-terminated messages."""

    __slots__ = ("_rest",)

    def __init__(self) -> None:
        # The start of an unfinished line, in the pieces it came in: a long line
        # (an idempotent answer of megabytes) is joined once, not once per read.
        self._rest: list[bytes] = []

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines ``data`` finishes (without their newlines)."""
        *lines, rest = data.split(b"\n")
        if self._rest:
            if not lines:
                self._rest.append(rest)
                return lines
            self._rest.append(lines[0])
            lines[0] = b"".join(self._rest)
            self._rest = []
        if rest:
            self._rest.append(rest)
        return lines


class Frames:
    """Splits a byte stream into length-prefixed pickled messages."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        """The messages ``data`` completes, unpickled."""
        buffer = self._buffer
        buffer += data
        out: list[Any] = []
        start = 0
        while len(buffer) - start >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(buffer, start)
            end = start + _LENGTH.size + size
            if len(buffer) < end:
                break
            out.append(pickle.loads(buffer[start + _LENGTH.size : end]))
            start = end
        del buffer[:start]
        return out


def frame(message: Any) -> bytes:
    """One message for a ``Frames`` reader."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload
