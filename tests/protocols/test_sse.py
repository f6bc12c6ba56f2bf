"""The SSE parser: events as their blank line arrives, and a bound on what one may hold."""

from __future__ import annotations

import pytest

from sluicegate.protocols.sse import EventTooLarge, SSEEvent, SSEParser


def feed_all(parser: SSEParser, *chunks: bytes) -> list[SSEEvent]:
    return [event for chunk in chunks for event in parser.feed(chunk)]


def test_events_split_across_chunks_come_whole() -> None:
    parser = SSEParser()

    events = feed_all(parser, b"event: delta\nda", b"ta: one\ndata: two\r\n", b"\n: ping\n\n")

    assert events == [SSEEvent("delta", "one\ntwo")]


def test_a_line_that_never_ends_is_cut_off_at_the_bound() -> None:
    parser = SSEParser(max_event_bytes=1000)
    feed_all(parser, b"data: " + b"x" * 900)

    with pytest.raises(EventTooLarge) as caught:
        feed_all(parser, b"x" * 200)
    assert caught.value.limit == 1000


def test_an_event_of_many_lines_that_never_ends_is_cut_off_at_the_bound() -> None:
    parser = SSEParser(max_event_bytes=1000)

    with pytest.raises(EventTooLarge):
        feed_all(parser, *[b"data: " + b"x" * 90 + b"\n"] * 12)


def test_the_bound_is_per_event_not_per_stream() -> None:
    parser = SSEParser(max_event_bytes=1000)
    stream = (b"data: " + b"x" * 600 + b"\n\n") * 50

    # Chunks that end anywhere: mid-line, mid-event, just after one began.
    events = feed_all(parser, *[stream[i:i + 250] for i in range(0, len(stream), 250)])

    assert len(events) == 50


def test_keep_alive_comments_while_a_model_is_queued_do_not_add_up() -> None:
    parser = SSEParser(max_event_bytes=1000)

    events = feed_all(parser, *[b": keep-alive " + b"." * 100 + b"\n\n"] * 50, b"data: ok\n\n")

    assert events == [SSEEvent(None, "ok")]
