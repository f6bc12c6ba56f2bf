"""Calling a provider in tests: a chat request, the events it yields, the error it ends with."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

import pytest

from sluicegate.canonical import (
    ChatRequest,
    ChatResponse,
    Event,
    GatewayError,
    Message,
    TextDelta,
    TextPart,
)
from sluicegate.canonical.collect import ResponseCollector


def chat(stream: bool = False, text: str = "Hello!", **fields: Any) -> ChatRequest:
    """A request to the alias ``smart`` with one user message ``text``.

    ``fields`` are more ChatRequest fields (``messages`` replaces the message).
    """
    fields.setdefault("model", "smart")
    fields.setdefault("messages", [Message(role="user", content=[TextPart(text=text)])])
    return ChatRequest(stream=stream, **fields)


async def collect(events: AsyncIterable[Event]) -> list[Event]:
    """All the events of a stream, e.g. ``provider.chat(request, model)``."""
    return [event async for event in events]


async def failure(events: AsyncIterable[Event]) -> tuple[GatewayError, list[Event]]:
    """The error a stream ends with, and the events it yielded before."""
    received: list[Event] = []
    with pytest.raises(GatewayError) as caught:
        async for event in events:
            received.append(event)
    return caught.value, received


def text_of(events: list[Event]) -> str:
    """The answer's text: all the text deltas, joined."""
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def response_of(events: list[Event]) -> ChatResponse:
    """The whole answer the events add up to."""
    collector = ResponseCollector()
    for event in events:
        collector.add(event)
    return collector.response()
