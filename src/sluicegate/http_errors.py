"""A GatewayError as an HTTP answer in a client's protocol; the public API's egress
and the admin API both render their errors here."""

from __future__ import annotations

from aiohttp import web

from sluicegate.canonical import GatewayError
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
