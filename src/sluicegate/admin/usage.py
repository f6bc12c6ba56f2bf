"""Admin handlers that read the ledger: usage totals, the month-end forecast,
and recent request records.

``tenant=NAME`` means the tenant that has that name now; ``tenant_id=`` reaches
any tenant, deleted ones too, because the ledger keeps usage by tenant id.
"""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from sluicegate.admin.http import gateway_of, json_answer, read_query, tenant_named
from sluicegate.admin.schemas import (
    ForecastList,
    ForecastOut,
    ForecastQuery,
    RequestsQuery,
    UsageQuery,
)
from sluicegate.canonical import GatewayError
from sluicegate.http_errors import JSON
from sluicegate.state.ledger.export import usage_csv
from sluicegate.state.ledger.forecast import forecast_tenant

__all__ = ["list_requests", "usage", "usage_forecast"]


async def usage(request: web.Request) -> web.Response:
    query = read_query(request, UsageQuery)
    if query.since is not None and query.until is not None and query.until < query.since:
        raise GatewayError.invalid("until is earlier than since", param="until")
    result = await gateway_of(request).ledger.ausage(
        tenant=query.tenant,
        tenant_id=query.tenant_id,
        key=query.key,
        since=query.since,
        until=query.until,
        group_by=query.group_by,
    )
    if query.format == "csv":
        return web.Response(
            text=usage_csv(result, group_by=query.group_by),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="usage.csv"'},
        )
    # Exactly what the ledger answers: the contract fixes this shape.
    return web.Response(body=orjson.dumps(result), content_type=JSON)


async def usage_forecast(request: web.Request) -> web.Response:
    query = read_query(request, ForecastQuery)
    gateway = gateway_of(request)
    tenants = gateway.directory.tenants()
    if query.tenant is not None:
        tenants = [tenant_named(gateway, query.tenant)]
    now = time.time()
    forecasts = []
    for tenant in tenants:
        limits = tenant.limits
        budget = limits.budget_usd if limits.budget_period == "month" else None
        forecast = await forecast_tenant(gateway.ledger.ausage, tenant.name, now, budget_usd=budget)
        forecasts.append(ForecastOut.model_validate(forecast.as_dict()))
    return json_answer(ForecastList(data=forecasts))


async def list_requests(request: web.Request) -> web.Response:
    query = read_query(request, RequestsQuery)
    records = await gateway_of(request).ledger.arecords(
        limit=query.limit, tenant=query.tenant, tenant_id=query.tenant_id
    )
    return web.Response(body=orjson.dumps({"data": records}), content_type=JSON)
