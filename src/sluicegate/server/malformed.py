"""Requests that aiohttp's parser refuses: answered in the client's protocol, logged
now and then, never quoted.

aiohttp answers a malformed request (a header value ending in a stray ``\\r``
from a secret file, a NUL, a line over 8 KiB) itself: with a text/plain body
that quotes the offending line, and an ERROR traceback in the log that quotes
it again, once per request. With an API key on that line, the key landed in
both. Here the answer is the protocol's JSON error with an ``x-request-id``
(Anthropic's shape under ``/v1/messages``, OpenAI's elsewhere), naming only
what the parser objected to, and the log gets one short line, then a count of
those that followed, at most once a minute.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.protocols.wire import for_path
from sluicegate.server.respond import error_response

log = logging.getLogger("sluicegate.server")

# Where a parser message stops saying what is wrong and starts quoting the input.
_QUOTE = re.compile(r"[:'\"]")


def reason(exc: HttpProcessingError) -> str:
    """What the parser objected to, without the bytes it quotes after it.

    ``Invalid header value char:\\n\\n  b'Authorization: Bearer sk-...'`` and
    ``Got more than 8190 bytes when reading: b'sk-...'`` become their words
    before the quote.
    """
    lines = (exc.message or "").strip().splitlines()
    words = _QUOTE.split(lines[0], maxsplit=1)[0].strip() if lines else ""
    return words[:100] or type(exc).__name__


def request_target(head: bytes | None) -> str:
    """The request line's target, from the first bytes of a head that did not parse."""
    if not head:
        return ""
    parts = head.split(b"\n", 1)[0].split(b" ", 2)
    return parts[1].decode("latin-1") if len(parts) > 1 else ""


class MalformedRequests:
    """Answers, and reports, the requests one server's parser refused."""

    def __init__(
        self, *, report_every_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._report_every_s = report_every_s
        self._clock = clock
        self._quiet_until = float("-inf")
        self._unreported = 0

    def answer(
        self,
        exc: HttpProcessingError,
        status: int,
        *,
        head: bytes | None,
        peer: str | None,
        request_id: str,
    ) -> web.Response:
        """The answer to a refused request whose head began with ``head``."""
        why = reason(exc)
        self._report(why, peer)
        err = GatewayError(
            ErrorKind.INVALID_REQUEST,
            f"malformed HTTP request: {why}",
            code=ErrorCode.MALFORMED_REQUEST,
        )
        response = error_response(for_path(request_target(head)), err)
        response.set_status(status)
        response.headers["x-request-id"] = request_id
        return response

    def _report(self, why: str, peer: str | None) -> None:
        now = self._clock()
        if now < self._quiet_until:
            self._unreported += 1
            return
        since = f" ({self._unreported} more since the last report)" if self._unreported else ""
        log.warning(
            "refused a malformed HTTP request from %s: %s%s; the next %gs of them are "
            "counted, not logged",
            peer or "an unknown peer",
            why,
            since,
            self._report_every_s,
        )
        self._unreported = 0
        self._quiet_until = now + self._report_every_s
