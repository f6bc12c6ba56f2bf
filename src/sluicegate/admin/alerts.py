"""``GET /admin/alerts``: every alert the gateway raised, newest first."""

from __future__ import annotations

import orjson
from aiohttp import web

from sluicegate.admin.http import gateway_of, read_query
from sluicegate.admin.observability_schemas import AlertsQuery
from sluicegate.http_errors import JSON


async def list_alerts(request: web.Request) -> web.Response:
    query = read_query(request, AlertsQuery)
    data = await gateway_of(request).storage.alerts.list(
        type=query.type, since=query.since, limit=query.limit
    )
    return web.Response(body=orjson.dumps({"data": data}), content_type=JSON)
