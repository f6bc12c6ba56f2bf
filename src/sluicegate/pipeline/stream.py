"""An answer as it arrives, and the observers that watch it.

Every stage that watches an answer (the cache keeping it, Idempotency-Key
recording it, limits settling what they reserved, the upstream target's
breaker waiting for its verdict, the access log) is an :class:`Observer`
on the one :class:`Stream` that carries it from the upstream to egress. The
stream calls ``on_event`` for each event as it passes and ``on_end`` once,
when the answer has ended, failed or been given up by its reader; nothing
wraps the events in generators of its own, and nothing depends on the
garbage collector to run a ``finally``.

A stream's first event has already arrived when a stage gets it, so a failure
before the first byte is an exception (a proper HTTP error, or a failover)
and not an error event. Whoever holds a stream must end it: egress does, for
the stream it sends; a stage that consumes a stream instead of returning it
(one that holds an answer to check it) reads it to the end or closes it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterable

from sluicegate.canonical import ErrorCode, ErrorKind, Event, GatewayError
from sluicegate.pipeline.outcome import Outcome

log = logging.getLogger("sluicegate")


class Observer:
    """Watches one stream. Override what you need: an observer that leaves
    ``on_event`` alone costs nothing per event, and ``on_end`` may be a plain
    method or a coroutine."""

    __slots__ = ()
    # Whether the class overrides on_event (set for each subclass).
    watches_events = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.watches_events = cls.on_event is not Observer.on_event

    def on_event(self, event: Event) -> None:
        """An event on its way to the client."""

    def on_end(self, stream: Stream) -> Awaitable[None] | None:
        """The stream is over: ``stream.completed`` says whether it ended as it
        should, ``stream.error`` why not (None: its reader gave it up)."""
        return None


class Stream:
    # The events pass through one async generator of the stream's own: resuming a
    # generator costs less per event than a coroutine per __anext__ call.
    __slots__ = (
        "_abandoned",
        "_ended",
        "_event_observers",
        "_first",
        "_gen",
        "_observers",
        "_source",
        "completed",
        "error",
        "outcome",
    )

    def __init__(
        self,
        source: AsyncIterator[Event],
        outcome: Outcome,
        *,
        first: Event | None = None,
    ) -> None:
        self._source = source
        self.outcome = outcome
        self._first = first
        self._observers: list[Observer] = []
        self._event_observers: list[Observer] = []
        self._ended = False
        self._abandoned = False
        self.completed = False  # every event arrived and the source ended cleanly
        self.error: GatewayError | None = None
        self._gen = self._run()

    @classmethod
    def replay(cls, events: Iterable[Event], outcome: Outcome) -> Stream:
        """A stored answer (a cache hit, an idempotent replay) as a stream."""
        return cls(_iterate(tuple(events)), outcome)

    def watch(self, observer: Observer) -> Stream:
        """Add ``observer``; observers end in the order they were added (the
        innermost stage's first, the access log's last)."""
        self._observers.append(observer)
        if observer.watches_events:
            self._event_observers.append(observer)
        return self

    @property
    def ended(self) -> bool:
        return self._ended

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._gen

    def __anext__(self) -> Awaitable[Event]:
        return self._gen.__anext__()

    async def aclose(self) -> None:
        """Give the stream up before its end: its reader (the client) went away."""
        if self._ended:
            return
        await self._gen.aclose()
        if not self._ended:  # closed before its first step: the generator ran nothing
            self.outcome.client_closed = not self._abandoned
            await self._end()

    async def abandon(self) -> None:
        """Give the stream up on the gateway's own decision (an answer that runs
        away, one that will be asked again): closed like ``aclose``, but not
        recorded as the client going away."""
        self._abandoned = True
        await self.aclose()

    async def _run(self) -> AsyncGenerator[Event, None]:
        observers = self._event_observers
        try:
            first = self._first
            if first is not None:
                self._first = None
                for observer in observers:
                    observer.on_event(first)
                yield first
            async for event in self._source:
                for observer in observers:
                    observer.on_event(event)
                yield event
            self.completed = True
        except GatewayError as err:
            self.error = self.outcome.error = err
            raise
        except Exception as exc:
            internal = internal_error(exc)
            self.error = self.outcome.error = internal
            raise internal from exc
        except BaseException:
            # Closed or cancelled mid-answer: the client went away (unless abandoned).
            if not self._abandoned:
                self.outcome.client_closed = True
            raise
        finally:
            await self._end()

    async def _end(self) -> None:
        self._ended = True
        aclose = None if self.completed else getattr(self._source, "aclose", None)
        if aclose is not None:
            try:
                await aclose()  # at once: it may hold an upstream connection
            except Exception:
                log.exception("an answer's source failed to close")
        for observer in self._observers:
            try:
                ending = observer.on_end(self)
                if ending is not None:
                    await ending
            except Exception:
                # One observer's failure (a cache that cannot store) must never
                # keep the others (limits, the ledger) from their end.
                log.exception("%s failed at the end of an answer", type(observer).__name__)


def internal_error(exc: BaseException) -> GatewayError:
    """A bug, not a client's or an upstream's failure: logged in full, recorded,
    and answered as a 500 in the client's protocol without its details."""
    log.error("internal error while serving a request", exc_info=exc)
    return GatewayError(
        ErrorKind.INTERNAL, "internal error in the gateway", code=ErrorCode.INTERNAL_ERROR
    )


async def _iterate(events: tuple[Event, ...]) -> AsyncIterator[Event]:
    for event in events:
        yield event
