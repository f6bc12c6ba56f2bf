"""The wire encoding of a stored answer, and so its size.

JSON (readable with redis-cli, and usable whether or not the client decodes
responses); events as canonical/codec.py writes them. "v" lets a later format
read this one. The Redis store keeps these bytes; the in-process store keeps
the decoded answer but counts it at this size, so one ``max_entry_bytes``
means the same in both.
"""

from __future__ import annotations

import msgspec

from sluicegate.canonical.codec import WireEvents, decode_events, named_events
from sluicegate.idempotency.store import StoredAnswer

_FORMAT = 1


class _WireAnswer(msgspec.Struct, kw_only=True):
    v: int
    events: WireEvents
    target: str | None
    alias: str | None
    request_id: str
    attempts: int
    first_event_s: float | None


_encoder = msgspec.json.Encoder()
_wire_decoder = msgspec.json.Decoder(_WireAnswer)


def encode_answer(answer: StoredAnswer) -> bytes:
    """``answer`` as the JSON kept in Redis."""
    return _encoder.encode(
        {
            "v": _FORMAT,
            "events": named_events(answer.events),
            "target": answer.target,
            "alias": answer.alias,
            "request_id": answer.request_id,
            "attempts": answer.attempts,
            "first_event_s": answer.first_event_s,
        }
    )


def decode_answer(data: bytes | str | msgspec.Raw) -> StoredAnswer:
    """The answer :func:`encode_answer` wrote; ``ValueError`` if it is not one."""
    try:
        wire = _wire_decoder.decode(data)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise ValueError(f"unreadable stored answer: {exc}") from exc
    if wire.v != _FORMAT:
        raise ValueError(f"unknown stored answer format {wire.v}")
    events = decode_events(wire.events, what="a stored answer")
    return StoredAnswer(
        events=tuple(events),
        target=wire.target,
        alias=wire.alias,
        request_id=wire.request_id,
        attempts=wire.attempts,
        first_event_s=wire.first_event_s,
    )
