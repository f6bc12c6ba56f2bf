"""The pipeline's chaining: an optional stage sees only the requests it wants."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sluicegate.canonical import ChatRequest, Event, Message, Start, TextPart
from sluicegate.pipeline import Next, Outcome, Request, Stream
from sluicegate.pipeline.stage import Pipeline


class Log:
    """An access log that only counts."""

    def __init__(self) -> None:
        self.recorded: list[Outcome] = []

    def begin(self, request: Request) -> None:
        pass

    def record(self, outcome: Outcome) -> None:
        self.recorded.append(outcome)

    @property
    def observer(self) -> Any:
        from sluicegate.pipeline import Observer

        return Observer()


class Marking:
    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[str] = []

    async def __call__(self, request: Request, call_next: Next) -> Stream:
        self.seen.append(request.request_id)
        return await call_next(request.replace(tags=(*request.tags, self.name)))


class OnlyTagged(Marking):
    def wants(self, request: Request) -> bool:
        return "wanted" in request.tags


async def terminal(request: Request) -> Stream:
    async def events() -> AsyncIterator[Event]:
        yield Start(id="x", model=",".join(request.tags))

    return Stream(events(), request.outcome)


def request(*tags: str) -> Request:
    body = ChatRequest(model="m", messages=[Message(role="user", content=[TextPart(text="hi")])])
    return Request.of(body, tags=tags)


async def model_of(pipeline: Pipeline, req: Request) -> str:
    stream = await pipeline(req)
    events = [e async for e in stream]
    assert isinstance(events[0], Start)
    return events[0].model


async def test_an_optional_stage_is_passed_over_for_requests_it_does_not_want() -> None:
    first, optional, last = Marking("first"), OnlyTagged("optional"), Marking("last")
    pipeline = Pipeline([first, optional, last], terminal, Log())
    assert await model_of(pipeline, request()) == "first,last"
    assert await model_of(pipeline, request("wanted")) == "wanted,first,optional,last"
    assert len(optional.seen) == 1 and len(last.seen) == 2
