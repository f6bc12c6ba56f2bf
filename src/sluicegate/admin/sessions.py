"""``GET /admin/sessions``: requests tied together by ``x-sluicegate-session``."""

from __future__ import annotations

import orjson
from aiohttp import web

from sluicegate.admin.http import gateway_of, read_query, tenant_named
from sluicegate.admin.observability_schemas import SessionsQuery
from sluicegate.canonical import GatewayError
from sluicegate.http_errors import JSON


async def list_sessions(request: web.Request) -> web.Response:
    query = read_query(request, SessionsQuery)
    if query.since is not None and query.until is not None and query.until < query.since:
        raise GatewayError.invalid("until is earlier than since", param="until")
    gateway = gateway_of(request)
    tenant_id = None if query.tenant is None else tenant_named(gateway, query.tenant).id
    await gateway.ledger.aflush()
    data = await gateway.storage.behaviour.sessions(
        tenant_id, query.since, query.until, query.limit
    )
    return web.Response(body=orjson.dumps({"data": data}), content_type=JSON)
