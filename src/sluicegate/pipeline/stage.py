"""The one interface every stage implements, and how stages are chained.

A stage is an onion layer (as in Tower or Envoy's filter chain): it gets the
request and the rest of the chain. It may end the request by raising
:class:`GatewayError`, pass on a new version of the request, and watch the
answer that comes back by adding an observer to its :class:`Stream`. The
stream's first event has already arrived when ``call_next`` returns, so a
failure before the first byte surfaces as an exception and can still become a
proper HTTP error (or be retried elsewhere).

The chain itself records every request: the access log is the last observer
of every answer, and is told directly of every request that ends with an
error before there is an answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from sluicegate.canonical import GatewayError
from sluicegate.pipeline.outcome import Outcome
from sluicegate.pipeline.request import Request
from sluicegate.pipeline.stream import Observer, Stream, internal_error

Events = Stream
Next = Callable[[Request], Awaitable[Stream]]


class Stage(Protocol):
    async def __call__(self, request: Request, call_next: Next) -> Stream: ...


class OptionalStage(Stage, Protocol):
    """A stage most requests do not need: ``wants`` says, cheaply and without
    awaiting, whether this request does. Those it does not want go straight to the
    rest of the chain: no coroutine of the stage's own and no extra frame that
    every await below passes through (a stage hop costs a request about 4,000
    instructions; a ``wants`` call a tenth of that)."""

    def wants(self, request: Request) -> bool: ...


class Terminal(Protocol):
    async def __call__(self, request: Request) -> Stream: ...


class AccessLog(Protocol):
    """Where every request ends up once it is over (sluicegate.accounting)."""

    def begin(self, request: Request) -> None: ...

    def record(self, outcome: Outcome) -> None: ...

    @property
    def observer(self) -> Observer: ...


class Pipeline:
    """Stages composed once, at startup, around a terminal handler."""

    def __init__(self, stages: Sequence[Stage], terminal: Terminal, access_log: AccessLog) -> None:
        self.stages = tuple(stages)
        handler: Next = terminal
        for stage in reversed(self.stages):
            handler = _bind(stage, handler)
        self._handler = handler
        self._log = access_log
        self._observer = access_log.observer

    async def __call__(self, request: Request) -> Stream:
        """The answer to ``request``; whoever gets it must read it to its end or close it."""
        log = self._log
        log.begin(request)
        outcome = request.outcome
        try:
            stream = await self._handler(request)
        except GatewayError as err:
            outcome.error = err
            log.record(outcome)
            raise
        except Exception as exc:
            internal = internal_error(exc)
            outcome.error = internal
            log.record(outcome)
            raise internal from exc
        except BaseException:
            # Cancelled before the answer began: the client went away.
            outcome.client_closed = True
            log.record(outcome)
            raise
        return stream.watch(self._observer)

    def describe(self) -> list[str]:
        return [type(s).__name__ for s in self.stages]


def _bind(stage: Stage, call_next: Next) -> Next:
    wants = getattr(stage, "wants", None)
    if wants is None:

        def handler(request: Request) -> Awaitable[Stream]:
            return stage(request, call_next)

        return handler

    def optional(request: Request) -> Awaitable[Stream]:
        return stage(request, call_next) if wants(request) else call_next(request)

    return optional
