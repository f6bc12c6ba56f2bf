"""The one interface every stage implements, and how stages are chained.

A stage is an onion layer (as in Tower or Envoy's filter chain): it gets the
request and the rest of the chain. It may end the request by raising
:class:`GatewayError`, or call ``call_next`` and return its events, possibly
wrapped to watch or change them as they pass. Events are an async iterator
whose first item has already arrived when ``call_next`` returns, so a failure
before the first byte surfaces as an exception and can still become a proper
HTTP error (or be retried elsewhere).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Protocol

from sluicegate.canonical import Event
from sluicegate.pipeline.request import Request

# Async generators, so that egress can close them (and with them the upstream call)
# the moment a client goes away.
Events = AsyncGenerator[Event, None]
Next = Callable[[Request], Awaitable[Events]]


class Stage(Protocol):
    async def __call__(self, request: Request, call_next: Next) -> Events: ...


class Terminal(Protocol):
    async def __call__(self, request: Request) -> Events: ...


class Pipeline:
    """Stages composed once, at startup, around a terminal handler."""

    def __init__(self, stages: Sequence[Stage], terminal: Terminal) -> None:
        self.stages = tuple(stages)
        handler: Next = terminal
        for stage in reversed(self.stages):
            handler = _bind(stage, handler)
        self._handler = handler

    def __call__(self, request: Request) -> Awaitable[Events]:
        return self._handler(request)

    def describe(self) -> list[str]:
        return [type(s).__name__ for s in self.stages]


def _bind(stage: Stage, call_next: Next) -> Next:
    def handler(request: Request) -> Awaitable[Events]:
        return stage(request, call_next)

    return handler
