"""Gemini's ``{"error": ...}`` bodies, read into a :class:`GeminiError`.

An error arrives as a non-2xx answer, or inside a 200 stream or answer; the
provider maps the GeminiError to the contract's statuses.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["GeminiError", "error_from_body", "error_from_object"]

JSON = dict[str, Any]


class GeminiError(Exception):
    """An ``{"error": {"code", "message", "status", "details"}}`` body from Gemini.

    ``status`` is the HTTP status the failure deserves (``RESOURCE_EXHAUSTED``
    is always 429, a rejected API key 401 although Gemini answers 400), and
    ``retry_after`` comes from a ``google.rpc.RetryInfo`` detail. The provider
    maps it to a GatewayError, so the contract's mapping lives in one place.
    """

    def __init__(self, status: int, message: str, *, reason: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.retry_after = retry_after


# Canonical gRPC status names -> HTTP, for errors that come without a code.
_HTTP_OF_STATUS = {
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
    "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499, "INTERNAL": 500,
    "UNKNOWN": 500, "DATA_LOSS": 500, "UNIMPLEMENTED": 501, "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def error_from_body(body: bytes, status: int) -> GeminiError:
    """Read a non-2xx Gemini answer (any body, even not JSON)."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return GeminiError(status, body[:500].decode(errors="replace").strip())
    if isinstance(data, list) and data:
        data = data[0]  # an ``alt=json`` stream wraps its error in an array
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return GeminiError(status, body[:500].decode(errors="replace").strip())
    return error_from_object(error, status)


def error_from_object(error: JSON, http_status: int | None) -> GeminiError:
    """The GeminiError of an ``error`` object; ``http_status`` is the answer's own
    status, or None for an error inside a 200 answer or stream."""
    reason = error.get("status")
    message = str(error.get("message") or reason or "")
    code = error.get("code")
    if http_status is not None:
        status = http_status
    elif isinstance(code, int) and code >= 400:  # inside a 200 stream: its own code
        status = code
    else:
        status = _HTTP_OF_STATUS.get(str(reason), 500)
    details = error.get("details")
    details = details if isinstance(details, list) else []
    if reason == "RESOURCE_EXHAUSTED":
        status = 429
    elif "API key not valid" in message or any(
        isinstance(d, dict) and d.get("reason") == "API_KEY_INVALID" for d in details
    ):
        status = 401  # Gemini says 400, but it is the gateway's key, not the client's request
    return GeminiError(status, message, reason=reason if isinstance(reason, str) else None,
                       retry_after=_retry_delay(details))


def _retry_delay(details: list[Any]) -> float | None:
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type")).endswith("google.rpc.RetryInfo"):
            delay = detail.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return max(0.0, float(delay[:-1]))
                except ValueError:
                    return None
    return None
