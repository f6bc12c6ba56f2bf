"""Requests aiohttp's parser refuses: a JSON 400 in the client's protocol, and the key in
neither the answer nor the log."""

from __future__ import annotations

import logging

import pytest
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from server.conftest import ServeFactory, echo_config, request_head
from sluicegate.server.malformed import MalformedRequests, reason, request_target

SECRET = "sk-live-5ecret-do-not-log"
BAD_LINES = {
    "trailing CR from a secret file": f"Authorization: Bearer {SECRET}\r".encode(),
    "NUL": f"Authorization: Bearer {SECRET}\x00x".encode(),
    "over-long": f"x-api-key: {SECRET}{'A' * 9000}".encode(),
}


def bad_request(path: str, line: bytes) -> bytes:
    # The malformed line goes first, where a stray CR breaks the line after it.
    return request_head(path, length=2, extra=line + b"\r\n") + b"{}"


@pytest.mark.parametrize("line", BAD_LINES.values(), ids=BAD_LINES.keys())
async def test_a_malformed_header_gets_a_json_400_that_does_not_echo_it(
    serve: ServeFactory, line: bytes
) -> None:
    served = await serve(echo_config())
    conn = await served.connect()
    await conn.send(bad_request("/v1/chat/completions", line))
    response = await conn.response()
    assert response.status == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"].startswith("req_")
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "malformed_request")
    assert SECRET.encode() not in response.body


async def test_on_the_messages_path_the_error_is_anthropic_shaped(serve: ServeFactory) -> None:
    served = await serve(echo_config())
    conn = await served.connect()
    await conn.send(bad_request("/v1/messages", BAD_LINES["NUL"]))
    response = await conn.response()
    assert response.status == 400
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("malformed HTTP request: Invalid header value char")


async def test_a_flood_of_them_is_logged_once_and_never_with_the_key(
    serve: ServeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    served = await serve(echo_config())
    with caplog.at_level(logging.DEBUG):
        for n in range(30):
            conn = await served.connect()
            await conn.send(bad_request("/v1/chat/completions", list(BAD_LINES.values())[n % 3]))
            assert (await conn.response()).status == 400
            conn.close()
    assert SECRET not in caplog.text
    logged = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [r.name for r in logged] == ["sluicegate.server"], caplog.text
    assert "refused a malformed HTTP request from 127.0.0.1" in logged[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


def test_the_report_counts_what_it_did_not_log(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    malformed = MalformedRequests(report_every_s=60, clock=lambda: now[0])
    exc = BadHttpMessage("Invalid header value char:\n\n  b'Authorization: Bearer sk-1'\n  ^")
    with caplog.at_level(logging.WARNING):
        for t in (0.0, 1.0, 2.0, 59.0, 61.0):
            now[0] = t
            malformed.answer(exc, 400, head=None, peer="10.0.0.1", request_id="req_1")
    assert [r.getMessage() for r in caplog.records] == [
        "refused a malformed HTTP request from 10.0.0.1: Invalid header value char; the next "
        "60s of them are counted, not logged",
        "refused a malformed HTTP request from 10.0.0.1: Invalid header value char (3 more "
        "since the last report); the next 60s of them are counted, not logged",
    ]


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (BadHttpMessage("Invalid header value char:\n\n  b'x-api-key: sk-1\\x00'\n   ^"),
         "Invalid header value char"),
        (LineTooLong("sk-" + "A" * 200, "8190"), "Got more than 8190 bytes when reading"),
        (BadHttpMessage("Missing expected LF after header value:\n\n  b'sk-1\\r'"),
         "Missing expected LF after header value"),
        (BadHttpMessage("'sk-1' is all it says"), "BadHttpMessage"),
    ],
)
def test_the_reason_stops_before_the_quoted_input(exc: BadHttpMessage, words: str) -> None:
    assert reason(exc) == words


def test_the_request_target_is_read_from_the_head_that_failed() -> None:
    assert request_target(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n") == "/v1/messages"
    assert request_target(b"GARBAGE") == ""
    assert request_target(None) == ""
