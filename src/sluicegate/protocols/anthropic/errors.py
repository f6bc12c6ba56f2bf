"""Anthropic's error body, for a failure before an answer or as a stream's ``error`` event."""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.canonical import ErrorKind, GatewayError

__all__ = ["encode_error", "error_type"]

# Anthropic's error type per gateway status (https://docs.claude.com/en/api/errors);
# 503 is "the API is overloaded" to an Anthropic client, which its SDK retries.
_ERROR_TYPES: dict[ErrorKind, str] = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.REQUEST_TIMEOUT: "invalid_request_error",
    ErrorKind.CONFLICT: "conflict_error",
    ErrorKind.TOO_LARGE: "request_too_large",
    ErrorKind.UNPROCESSABLE: "invalid_request_error",
    ErrorKind.RATE_LIMITED: "rate_limit_error",
    ErrorKind.INTERNAL: "api_error",
    ErrorKind.UPSTREAM: "api_error",
    ErrorKind.UNAVAILABLE: "overloaded_error",
    ErrorKind.TIMEOUT: "timeout_error",
}


def error_type(err: GatewayError) -> str:
    """Anthropic's ``error.type`` for a gateway error."""
    return _ERROR_TYPES.get(err.kind, "api_error")


def encode_error(err: GatewayError, *, request_id: str | None = None) -> bytes:
    """``{"type": "error", "error": {"type", "message"}}``; the HTTP status is ``err.status``."""
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": error_type(err), "message": err.message},
    }
    if request_id is not None:
        body["request_id"] = request_id
    return orjson.dumps(body)
