"""OpenAI's error body, for a failure before an answer or in the middle of a stream."""

from __future__ import annotations

import orjson

from sluicegate.canonical import ErrorKind, GatewayError

__all__ = ["encode_error"]

_ERROR_TYPES = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.REQUEST_TIMEOUT: "invalid_request_error",
    ErrorKind.CONFLICT: "conflict_error",
    ErrorKind.TOO_LARGE: "invalid_request_error",
    ErrorKind.UNPROCESSABLE: "invalid_request_error",
    ErrorKind.RATE_LIMITED: "rate_limit_error",
    ErrorKind.INTERNAL: "api_error",
    ErrorKind.UPSTREAM: "api_error",
    ErrorKind.UNAVAILABLE: "service_unavailable_error",
    ErrorKind.TIMEOUT: "timeout_error",
}


def encode_error(err: GatewayError) -> bytes:
    """OpenAI's error body: ``{"error": {"message", "type", "code", "param"}}``."""
    return orjson.dumps({
        "error": {
            "message": err.message,
            "type": _ERROR_TYPES.get(err.kind, "api_error"),
            "code": err.code,
            "param": err.param,
        }
    })
