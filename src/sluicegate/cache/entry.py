"""A cached answer, and its bytes (what Redis keeps; what the in-process LRU counts).

The answer is kept as the canonical events the upstream produced, not as one
protocol's body: egress encodes them again for whoever asks, an OpenAI or an
Anthropic client, streamed or not, exactly as it encodes a fresh answer.
"""

from __future__ import annotations

import msgspec

from sluicegate.canonical import EmbeddingsResult, Event, Finish, Usage, last_usage
from sluicegate.canonical.codec import WireEvents, decode_events, named_events


class CachedAnswer(msgspec.Struct, frozen=True, kw_only=True):
    events: tuple[Event, ...]
    stored_at: float  # unix seconds
    target: str | None  # "provider/model" that produced it
    alias: str | None  # the alias that target belongs to
    tags: tuple[str, ...] = ()  # the storing request's x-sluicegate-tags (invalidation)

    @property
    def usage(self) -> Usage | None:
        """What the upstream reported for the call that produced it."""
        return last_usage(self.events)


def complete(events: list[Event]) -> bool:
    """Whether ``events`` are a whole, successful answer: worth serving again.

    A chat answer must have ended (a ``Finish``), and not with an error; an
    embeddings answer must carry its vectors. (A stream cut by the upstream or
    by a timeout never gets this far: it raises.)
    """
    finished = False
    for event in events:
        kind = type(event)
        if kind is Finish:
            if event.reason == "error":  # type: ignore[union-attr]
                return False
            finished = True
        elif kind is EmbeddingsResult:
            finished = True
    return finished


# --- bytes ----------------------------------------------------------------------------
#
# JSON, readable with redis-cli; events as canonical/codec.py writes them. "v"
# lets a later format read this one.

_FORMAT = 1


class _Wire(msgspec.Struct):
    v: int
    events: WireEvents
    stored_at: float
    target: str | None
    alias: str | None
    tags: tuple[str, ...] = ()


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Wire)


def encode(answer: CachedAnswer) -> bytes:
    return _encoder.encode(
        {
            "v": _FORMAT,
            "events": named_events(answer.events),
            "stored_at": answer.stored_at,
            "target": answer.target,
            "alias": answer.alias,
            "tags": answer.tags,
        }
    )


def decode(data: bytes | str) -> CachedAnswer:
    """The answer :func:`encode` wrote; ``ValueError`` if it is not one."""
    try:
        wire = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ValueError(f"unreadable cached answer: {exc}") from exc
    if wire.v != _FORMAT:
        raise ValueError(f"unknown cached answer format {wire.v}")
    events = decode_events(wire.events, what="a cached answer")
    return CachedAnswer(
        events=tuple(events),
        stored_at=wire.stored_at,
        target=wire.target,
        alias=wire.alias,
        tags=wire.tags,
    )
