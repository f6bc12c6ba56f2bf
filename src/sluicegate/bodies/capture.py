"""Stage: keep the conversation asked and the answer given (``storage.bodies``).

The chain has this stage only when ``storage.bodies`` is ``full`` or
``redacted`` (a restart-only setting), so with bodies off it costs a request
nothing. It sits after Idempotency, so a replayed answer is not kept a second
time, and before Guard, so what it keeps is what the client sent (after the
prompt was composed) and what the client got (placeholders restored):
``redacted`` mode redacts that with the PII detector itself, when the record
ships (:mod:`sluicegate.bodies.redact`), never while the client waits.

Embeddings are not kept (``wants`` is chat only), nor the body of a request that
failed before its answer began; an answer that broke off keeps the request and
no answer. Of several choices (``n > 1``) the first is kept.
"""

from __future__ import annotations

from typing import Literal

from sluicegate.bodies.messages import assistant, bounded, conversation
from sluicegate.canonical import ChatRequest, Event
from sluicegate.canonical.collect import ResponseCollector
from sluicegate.pipeline import Next, Observer, Request, Stream
from sluicegate.state.ledger.record import Bodies

Mode = Literal["full", "redacted"]


class Capture:
    def __init__(self, mode: Mode) -> None:
        self.mode = mode

    def wants(self, request: Request) -> bool:
        return type(request.body) is ChatRequest

    async def __call__(self, request: Request, call_next: Next) -> Stream:
        asked = request.decoded
        assert isinstance(asked, ChatRequest)
        stream = await call_next(request)
        return stream.watch(_Keep(self.mode, asked))


class _Keep(Observer):
    __slots__ = ("asked", "collector", "mode")

    def __init__(self, mode: Mode, asked: ChatRequest) -> None:
        self.mode = mode
        self.asked = asked
        self.collector = ResponseCollector()

    def on_event(self, event: Event) -> None:
        self.collector.add(event)

    def on_end(self, stream: Stream) -> None:
        # Before the access log's on_end (observers end innermost first): it copies
        # outcome.bodies into the ledger record.
        answer = None
        if stream.completed:
            answer = assistant(self.collector.response().choices[0].message)
        request, answer = bounded(conversation(self.asked), answer)
        stream.outcome.bodies = Bodies(mode=self.mode, request=request, answer=answer)
