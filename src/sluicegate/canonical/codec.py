"""Canonical events as JSON, for answers kept outside the process (Redis).

The Event union is not tagged, so each event is written as a pair
``[name, fields]``. The names are fixed here, not class names, so renaming a
class does not orphan stored answers. Used by the idempotency store and the
response cache, which keep whole answers and replay them through egress.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from sluicegate.canonical.events import (
    EmbeddingsResult,
    Event,
    Finish,
    Start,
    TextDelta,
    ToolCallDelta,
    Usage,
)

EVENT_NAMES: dict[type[Any], str] = {
    Start: "start",
    TextDelta: "text",
    ToolCallDelta: "tool_call",
    Finish: "finish",
    Usage: "usage",
    EmbeddingsResult: "embeddings",
}
_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    name: msgspec.json.Decoder(cls) for cls, name in EVENT_NAMES.items()
}

WireEvents = list[tuple[str, msgspec.Raw]]
"""How a struct holding encoded events declares them, to decode them lazily."""


def named_events(events: Iterable[Event]) -> list[tuple[str, Event]]:
    """``events`` as ``(name, event)`` pairs, for a msgspec JSON encoder."""
    return [(EVENT_NAMES[type(event)], event) for event in events]


def decode_events(pairs: WireEvents, *, what: str) -> list[Event]:
    """The events :func:`named_events` wrote; ``ValueError`` naming ``what`` if not."""
    events: list[Event] = []
    try:
        for name, fields in pairs:
            decoder = _DECODERS.get(name)
            if decoder is None:
                raise ValueError(f"unknown event type {name!r} in {what}")
            events.append(decoder.decode(fields))
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise ValueError(f"unreadable event in {what}: {exc}") from exc
    return events
