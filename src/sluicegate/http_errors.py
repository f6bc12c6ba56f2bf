"""A GatewayError as an HTTP answer in a client's protocol; the public API's egress
and the admin API both render their errors here, and refuse a body that is not a
JSON object here."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from sluicegate.canonical import ErrorCode, GatewayError
from sluicegate.protocols.wire import WireFormat

JSON = "application/json"


def error_response(
    wire: WireFormat, err: GatewayError, headers: dict[str, str] | None = None
) -> web.Response:
    headers = {} if headers is None else headers
    if err.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(err.retry_after)))
    return web.Response(
        status=err.status, body=wire.encode_error(err), content_type=JSON, headers=headers
    )


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be one JSON object; else the 400 that says why."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise GatewayError.invalid(
            f"the request body is not valid JSON: {exc}", code=ErrorCode.INVALID_JSON
        ) from exc
    if not isinstance(data, dict):
        raise GatewayError.invalid(
            "the request body must be a JSON object", code=ErrorCode.INVALID_JSON
        )
    return data
