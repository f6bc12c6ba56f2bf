"""Admin handlers for the response cache: invalidate entries, and the report of
hit rates and prompt-caching economics (read from the ledger)."""

from __future__ import annotations

from aiohttp import web

from sluicegate.admin.http import gateway_of, json_answer, read_body, read_query, tenant_named
from sluicegate.admin.schemas import (
    CacheInvalidate,
    CacheInvalidated,
    CacheReport,
    CacheReportQuery,
)
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError

__all__ = ["cache_report_view", "invalidate_cache"]


async def invalidate_cache(request: web.Request) -> web.Response:
    from redis.exceptions import RedisError

    from sluicegate.cache import SHARED_SCOPE, Selector, tenant_scope

    body = await read_body(request, CacheInvalidate)
    scopes = [name for name in ("tenant", "tenant_id", "shared") if getattr(body, name)]
    if len(scopes) > 1:
        raise GatewayError.invalid(
            f"give one of tenant, tenant_id and shared, not {' and '.join(scopes)}",
            param=scopes[-1],
        )
    if not (scopes or body.alias or body.tag or body.all):
        raise GatewayError.invalid(
            "say which entries: tenant, tenant_id, shared, alias or tag "
            "(or all: true for every entry)",
            param="all",
        )
    scope = SHARED_SCOPE if body.shared else None
    if body.tenant is not None:
        # Entries are kept by tenant id: the name means the tenant that has it now.
        scope = tenant_scope(tenant_named(gateway_of(request), body.tenant).id)
    elif body.tenant_id is not None:
        scope = tenant_scope(body.tenant_id)
    selector = Selector(scope=scope, alias=body.alias, tag=body.tag)
    store = gateway_of(request).services.cache
    try:
        removed = await store.invalidate(selector) if store is not None else 0
    except (RedisError, OSError) as exc:
        raise GatewayError(
            ErrorKind.UNAVAILABLE,
            f"the cache's Redis is unreachable: {exc}",
            code=ErrorCode.CACHE_UNAVAILABLE,
        ) from exc
    return json_answer(CacheInvalidated(invalidated=removed))


async def cache_report_view(request: web.Request) -> web.Response:
    from sluicegate.cache.report import cache_report

    query = read_query(request, CacheReportQuery)
    gateway = gateway_of(request)
    report = await cache_report(
        gateway.ledger,
        gateway.runtime.aliases,
        tenant=query.tenant,
        tenant_id=query.tenant_id,
        since=query.since,
        until=query.until,
    )
    return json_answer(CacheReport.model_validate(report))
