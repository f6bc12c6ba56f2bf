"""Egress ends every answer it is given, whatever happens while it sends it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request

from sluicegate.canonical import ChatRequest, Event, Finish, Message, Start, TextDelta, TextPart
from sluicegate.pipeline import Observer, Request, Stream
from sluicegate.protocols.wire import OPENAI
from sluicegate.server.respond import send_chat


class Watched(Observer):
    def __init__(self) -> None:
        self.ends: list[bool] = []

    async def on_end(self, stream: Stream) -> None:
        self.ends.append(stream.completed)


async def answer() -> AsyncIterator[Event]:
    yield Start(id="c1", model="m")
    yield TextDelta(text="hi")
    yield Finish(reason="stop")


def chat(stream: bool) -> Request:
    return Request.of(ChatRequest(model="m", stream=stream, messages=[
        Message(role="user", content=[TextPart(text="hi")])]))


async def test_a_client_gone_before_the_first_byte_still_ends_the_answer() -> None:
    request, watched = chat(stream=True), Watched()
    stream = Stream(answer(), request.outcome).watch(watched)
    writer = mock.Mock()
    writer.write_headers = mock.AsyncMock(side_effect=ConnectionResetError("gone"))
    http = make_mocked_request("POST", "/v1/chat/completions", writer=writer)

    with pytest.raises(ConnectionResetError):
        await send_chat(http, OPENAI, request, stream)

    assert watched.ends == [False], "its observers ran once, and it did not complete"
    assert request.outcome.client_closed


async def test_a_collected_answer_ends_complete() -> None:
    request, watched = chat(stream=False), Watched()
    stream = Stream(answer(), request.outcome).watch(watched)

    response = await send_chat(make_mocked_request("POST", "/"), OPENAI, request, stream)

    assert response.status == 200 and watched.ends == [True]
    assert not request.outcome.client_closed
