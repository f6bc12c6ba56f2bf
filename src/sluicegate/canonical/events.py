"""Events of an answer as it arrives.

Provider adapters yield these; egress encoders turn them into the client's
wire format. A non-streamed answer is the same events, collected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]


class Start(msgspec.Struct, kw_only=True):
    """The upstream has accepted the call; carries its id and model version."""

    id: str
    model: str
    created: int = 0


class TextDelta(msgspec.Struct, kw_only=True):
    text: str
    index: int = 0


class ToolCallDelta(msgspec.Struct, kw_only=True):
    """Part of a tool call. ``id`` and ``name`` come with the first part only."""

    call_index: int
    arguments: str = ""
    id: str | None = None
    name: str | None = None
    index: int = 0


class Finish(msgspec.Struct, kw_only=True):
    reason: FinishReason
    index: int = 0
    # The stop sequence that ended generation, when the upstream says which.
    stop_sequence: str | None = None


class Usage(msgspec.Struct, kw_only=True):
    """Token counts. ``input_tokens`` includes cached reads and cache writes."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    # True when counted locally because the upstream reported nothing.
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def plus(self, other: Usage) -> Usage:
        """Both calls' counts together (estimated if either is)."""
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            estimated=self.estimated or other.estimated,
        )


class EmbeddingsResult(msgspec.Struct, kw_only=True):
    model: str
    vectors: list[Any]  # list[list[float]] or base64 strings, in input order


Event = Start | TextDelta | ToolCallDelta | Finish | Usage | EmbeddingsResult


def last_usage(events: Sequence[Event]) -> Usage | None:
    """The usage an answer reported: its last ``Usage`` event, if any."""
    for event in reversed(events):
        if type(event) is Usage:
            return event
    return None
