"""The admin HTTP API under /admin: tenants, keys, usage, models and reload.

Handlers are thin: validate with the pydantic models in
:mod:`sluicegate.admin.schemas` (bodies strictly: no type coercion), call the
Directory, ledger or Gateway, and shape the answer. :data:`OPERATIONS` is the
one route table; the router and the OpenAPI document (GET /admin/openapi.json)
are both built from it. Every route, the document included, needs the admin key.

Errors use the OpenAI error body, like the rest of the gateway's own API.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from sluicegate.admin.limits_patch import merge_limits
from sluicegate.admin.openapi import Handler, Operation, build_openapi
from sluicegate.admin.schemas import (
    CacheInvalidate,
    CacheInvalidated,
    CacheReport,
    CacheReportQuery,
    ForecastList,
    ForecastOut,
    ForecastQuery,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyOut,
    ModelList,
    ModelOut,
    Reloaded,
    RequestList,
    RequestsQuery,
    TargetHealthList,
    TargetHealthOut,
    TargetOut,
    TenantCreate,
    TenantDeleted,
    TenantList,
    TenantOut,
    TenantUpdate,
    UsageOut,
    UsageQuery,
)
from sluicegate.auth.admin_key import check_admin_key
from sluicegate.canonical import ErrorKind, GatewayError
from sluicegate.config.loader import ConfigError
from sluicegate.gateway import GATEWAY, Gateway
from sluicegate.group.member import GROUP
from sluicegate.http_errors import JSON, error_response
from sluicegate.protocols.wire import OPENAI
from sluicegate.state.directory import UNSET, DirectoryError, Tenant
from sluicegate.state.ledger.export import usage_csv
from sluicegate.state.ledger.forecast import forecast_tenant

log = logging.getLogger("sluicegate.admin")

M = TypeVar("M", bound=BaseModel)


# -- tenants ------------------------------------------------------------------


async def list_tenants(request: web.Request) -> web.Response:
    tenants = _gateway(request).directory.tenants()
    return _json(TenantList(data=[TenantOut.of(t) for t in tenants]))


async def create_tenant(request: web.Request) -> web.Response:
    gateway = _gateway(request)
    body = await _body(request, TenantCreate)
    if body.models is not None:
        _check_aliases(gateway, body.models)
    tenant = await gateway.directory.create_tenant(
        body.name, models=body.models, limits=body.limits
    )
    return _json(TenantOut.of(tenant), status=201)


async def get_tenant(request: web.Request) -> web.Response:
    return _json(TenantOut.of(_tenant(request)))


async def update_tenant(request: web.Request) -> web.Response:
    gateway = _gateway(request)
    tenant = _changeable_tenant(request, "change")
    body = await _body(request, TenantUpdate)
    # Absent and null differ for models: null allows every alias again.
    models = body.models if "models" in body.model_fields_set else UNSET
    if isinstance(models, list):
        _check_aliases(gateway, models)
    limits = None if body.limits is None else merge_limits(tenant.limits, body.limits)
    updated = await gateway.directory.update_tenant(tenant.name, models=models, limits=limits)
    return _json(TenantOut.of(updated))


async def delete_tenant(request: web.Request) -> web.Response:
    """Its cached answers, Idempotency-Key answers, limits and usage are kept by its id,
    which no later tenant gets: nothing of them reaches a tenant created under its name."""
    tenant = _changeable_tenant(request, "remove")
    await _gateway(request).directory.delete_tenant(tenant.name)
    return _json(TenantDeleted(name=tenant.name, id=tenant.id))


# -- keys ---------------------------------------------------------------------


async def list_tenant_keys(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    keys = await _gateway(request).directory.keys(tenant.name)
    return _json(KeyList(data=[KeyOut.of(k) for k in keys]))


async def create_key(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    body = await _body(request, KeyCreate)
    key, plaintext = await _gateway(request).directory.create_key(tenant.name, body.name)
    return _json(KeyCreated.with_plaintext(key, plaintext), status=201)


async def list_keys(request: web.Request) -> web.Response:
    keys = await _gateway(request).directory.keys()
    return _json(KeyList(data=[KeyOut.of(k) for k in keys]))


async def revoke_key(request: web.Request) -> web.Response:
    key = await _gateway(request).directory.revoke_key(request.match_info["id"])
    return _json(KeyOut.of(key))


async def delete_key(request: web.Request) -> web.Response:
    """DELETE revokes too: the key stays listed, so the ledger's key names keep a meaning."""
    return await revoke_key(request)


# -- usage and requests -------------------------------------------------------


async def usage(request: web.Request) -> web.Response:
    query = _query(request, UsageQuery)
    if query.since is not None and query.until is not None and query.until < query.since:
        raise GatewayError.invalid("until is earlier than since", param="until")
    result = await _gateway(request).ledger.ausage(
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
    query = _query(request, ForecastQuery)
    gateway = _gateway(request)
    tenants = gateway.directory.tenants()
    if query.tenant is not None:
        tenants = [_tenant_named(gateway, query.tenant)]
    now = time.time()
    forecasts = []
    for tenant in tenants:
        limits = tenant.limits
        budget = limits.budget_usd if limits.budget_period == "month" else None
        forecast = await forecast_tenant(gateway.ledger.ausage, tenant.name, now, budget_usd=budget)
        forecasts.append(ForecastOut.model_validate(forecast.as_dict()))
    return _json(ForecastList(data=forecasts))


async def list_requests(request: web.Request) -> web.Response:
    query = _query(request, RequestsQuery)
    records = await _gateway(request).ledger.arecords(
        limit=query.limit, tenant=query.tenant, tenant_id=query.tenant_id
    )
    return web.Response(body=orjson.dumps({"data": records}), content_type=JSON)


# -- operations ---------------------------------------------------------------


async def list_models(request: web.Request) -> web.Response:
    aliases = _gateway(request).runtime.aliases.values()
    models = [
        ModelOut(
            name=a.name,
            targets=[
                TargetOut(provider=t.provider.name, model=t.model, weight=t.weight)
                for t in a.targets
            ],
            fallbacks=list(a.fallbacks),
            pricing=a.pricing,
            priced=a.priced,
        )
        for a in aliases
    ]
    return _json(ModelList(data=models))


async def list_targets(request: web.Request) -> web.Response:
    gateway = _gateway(request)
    labels = {t.label for t in gateway.runtime.targets()}
    health = gateway.health
    states = [
        TargetHealthOut.model_validate(health.state(label).snapshot()) for label in sorted(labels)
    ]
    return _json(TargetHealthList(data=states))


async def reload_config(request: web.Request) -> web.Response:
    gateway = _gateway(request)
    group = request.app.get(GROUP)
    try:
        if group is None:
            reloaded, workers = await gateway.reload(), 1
        else:  # every worker of the group applies it
            reloaded, workers = await group.reload()
    except (ConfigError, ValueError) as exc:
        raise GatewayError.invalid(
            f"the config was not reloaded; the running one stays in use: {exc}",
            code="invalid_config",
        ) from exc
    except RuntimeError as exc:
        # Gateway.reload raises a plain RuntimeError when there is no file to
        # re-read; subclasses (NotImplementedError...) are real failures.
        if type(exc) is not RuntimeError:
            raise
        raise GatewayError(ErrorKind.CONFLICT, str(exc), code="no_config_file") from exc
    config = reloaded.config
    return _json(
        Reloaded(
            providers=len(config.providers),
            models=len(config.models),
            tenants=len(config.tenants),
            not_applied=reloaded.not_applied,
            workers=workers,
        )
    )


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=openapi_document(), content_type=JSON)


@functools.cache
def openapi_document() -> bytes:
    """The OpenAPI document, built once: the route table does not change at run time."""
    return orjson.dumps(
        build_openapi(
            OPERATIONS,
            path_params={"name": "The tenant's name.", "id": "The key's id (key_...)."},
        )
    )


# -- response cache -----------------------------------------------------------


async def invalidate_cache(request: web.Request) -> web.Response:
    from redis.exceptions import RedisError

    from sluicegate.cache import SHARED_SCOPE, Selector, tenant_scope

    body = await _body(request, CacheInvalidate)
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
        scope = tenant_scope(_tenant_named(_gateway(request), body.tenant).id)
    elif body.tenant_id is not None:
        scope = tenant_scope(body.tenant_id)
    selector = Selector(scope=scope, alias=body.alias, tag=body.tag)
    store = _gateway(request).services.cache
    try:
        removed = await store.invalidate(selector) if store is not None else 0
    except (RedisError, OSError) as exc:
        raise GatewayError(
            ErrorKind.UNAVAILABLE,
            f"the cache's Redis is unreachable: {exc}",
            code="cache_unavailable",
        ) from exc
    return _json(CacheInvalidated(invalidated=removed))


async def cache_report_view(request: web.Request) -> web.Response:
    from sluicegate.cache.report import cache_report

    query = _query(request, CacheReportQuery)
    gateway = _gateway(request)
    report = await cache_report(
        gateway.ledger,
        gateway.runtime.aliases,
        tenant=query.tenant,
        tenant_id=query.tenant_id,
        since=query.since,
        until=query.until,
    )
    return _json(CacheReport.model_validate(report))


# -- the route table ----------------------------------------------------------

OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/admin/tenants", list_tenants, "List tenants", "tenants", TenantList),
    Operation(
        "POST",
        "/admin/tenants",
        create_tenant,
        "Create a tenant",
        "tenants",
        TenantOut,
        status=201,
        body=TenantCreate,
        errors=(400, 409),
        description="`models` must name configured aliases.",
    ),
    Operation(
        "GET",
        "/admin/tenants/{name}",
        get_tenant,
        "Get a tenant",
        "tenants",
        TenantOut,
        errors=(404,),
    ),
    Operation(
        "PATCH",
        "/admin/tenants/{name}",
        update_tenant,
        "Change a tenant",
        "tenants",
        TenantOut,
        body=TenantUpdate,
        errors=(400, 404, 409),
        description="Only what is given changes. `models` replaces the allowed aliases (null: "
        "every alias; each must name a configured alias). `limits` is merged into the current "
        "limits: a field given replaces its value, a field left out keeps it, and null clears "
        "a limit (unlimited again); `keys` and `models` inside it merge the same way per key "
        "name and per alias, and an entry left with every field at its default is removed. "
        "So `{\"limits\": {\"rpm\": 4}}` changes rpm and nothing else. Tenants from the "
        "config file are changed there (409).",
    ),
    Operation(
        "DELETE",
        "/admin/tenants/{name}",
        delete_tenant,
        "Delete a tenant and its keys",
        "tenants",
        TenantDeleted,
        errors=(404, 409),
        description="Tenants from the config file are removed there (409). Its cache "
        "entries, Idempotency-Key answers, rate windows, budget and usage are kept by its id, "
        "never by its name: a tenant created later under the same name gets a new id and "
        "none of them (no cache hits, no replays, a whole budget, empty usage). Its usage "
        "stays reachable with `tenant_id=` (the id this answer gives).",
    ),
    Operation(
        "GET",
        "/admin/tenants/{name}/keys",
        list_tenant_keys,
        "List a tenant's keys",
        "keys",
        KeyList,
        errors=(404,),
    ),
    Operation(
        "POST",
        "/admin/tenants/{name}/keys",
        create_key,
        "Create an API key",
        "keys",
        KeyCreated,
        status=201,
        body=KeyCreate,
        errors=(400, 404, 409),
        description="The answer's `key` is the only time the key is shown; only its hash "
        "is stored.",
    ),
    Operation("GET", "/admin/keys", list_keys, "List every API key", "keys", KeyList),
    Operation(
        "POST",
        "/admin/keys/{id}/revoke",
        revoke_key,
        "Revoke an API key",
        "keys",
        KeyOut,
        errors=(404,),
        description="Takes effect at once; revoking a revoked key changes nothing.",
    ),
    Operation(
        "DELETE",
        "/admin/keys/{id}",
        delete_key,
        "Revoke an API key",
        "keys",
        KeyOut,
        errors=(404,),
        description="Same as POST /admin/keys/{id}/revoke; the key stays listed as revoked.",
    ),
    Operation(
        "GET",
        "/admin/usage",
        usage,
        "Usage totals, optionally grouped",
        "usage",
        UsageOut,
        query=UsageQuery,
        errors=(400,),
        text_types=("text/csv",),
        description="Over [since, until); every parameter is optional (`until` earlier than "
        "`since` is a 400). `tenant=NAME` is the tenant that has that name now, and only its "
        "own requests: not those of a deleted tenant that had the name before. A deleted "
        "tenant's usage is reached by its id, `tenant_id=` (from the DELETE's answer, or "
        "the groups of `group_by=tenant`, which are per tenant id and carry `tenant_id`: a "
        "deleted tenant and its namesake are two groups with the same key). `format=csv` "
        "answers the same figures as CSV (text/csv): one row per group, or one of totals.",
    ),
    Operation(
        "GET",
        "/admin/usage/forecast",
        usage_forecast,
        "Month-end spend forecast per tenant",
        "usage",
        ForecastList,
        query=ForecastQuery,
        errors=(400, 404),
        description="Spent so far this UTC month plus the projected rest, from a linear trend "
        "of up to 28 days of daily spend, with a 90% interval; `over_budget` when the "
        "projection exceeds the tenant's monthly budget (which also logs an alert and counts "
        "`sluicegate_budget_forecast_alerts_total`, once a month).",
    ),
    Operation(
        "GET",
        "/admin/requests",
        list_requests,
        "Recent ledger records",
        "usage",
        RequestList,
        query=RequestsQuery,
        errors=(400,),
        description="`tenant=NAME` is the tenant that has that name now (its own requests "
        "only); `tenant_id=` any tenant, deleted ones too.",
    ),
    Operation(
        "GET", "/admin/models", list_models, "Configured model aliases", "operations", ModelList
    ),
    Operation(
        "GET",
        "/admin/targets",
        list_targets,
        "Each target's health and circuit breaker",
        "operations",
        TargetHealthList,
    ),
    Operation(
        "POST",
        "/admin/reload",
        reload_config,
        "Reload the config file",
        "operations",
        Reloaded,
        errors=(400, 409),
        description="A bad config is refused (400) and the running one stays in use; a gateway "
        "started without a config file answers 409. With `serve --workers N` every worker "
        "applies the new config before the answer (`workers`); one that could not makes it a "
        "500 (`reload_incomplete`) naming why.",
    ),
    Operation(
        "POST",
        "/admin/cache/invalidate",
        invalidate_cache,
        "Remove response cache entries",
        "cache",
        CacheInvalidated,
        body=CacheInvalidate,
        errors=(400, 404),
        description="By tenant (its name or `tenant_id`; or the shared scope), alias and tag, "
        "combined; `all: true` empties the cache. Entries also expire with their TTL, and a "
        "change of an alias's targets starts new entries by itself (they are in the key). "
        "Without Redis each "
        "worker process has its own cache and this reaches the one that answers; with Redis "
        "unreachable the answer is a 503 (`cache_unavailable`).",
    ),
    Operation(
        "GET",
        "/admin/cache/report",
        cache_report_view,
        "Cache hit rates and prompt-caching economics",
        "cache",
        CacheReport,
        query=CacheReportQuery,
        errors=(400,),
        description="Per tenant (by id: a deleted tenant's rows are its own, under the name "
        "it had) and alias, from the ledger: response-cache hits and what they "
        "saved; provider prompt-cache reads and writes, the discount on reads against the "
        "premium on writes at the alias's prices, and whether prefix caching pays. `tenant` "
        "and `tenant_id` select as in GET /admin/usage.",
    ),
    Operation("GET", "/admin/openapi.json", openapi_json, "This document", "operations", None),
)


def add_admin_routes(app: web.Application) -> None:
    for op in OPERATIONS:
        app.router.add_route(op.method, op.path, _guarded(op.handler))


# -- helpers ------------------------------------------------------------------


def _guarded(handler: Handler) -> Handler:
    """Check the admin key, then run ``handler``, rendering its errors as JSON bodies."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            check_admin_key(request.headers, _gateway(request).config.server.admin_key)
            return await handler(request)
        except GatewayError as err:
            return error_response(OPENAI, err)
        except DirectoryError as exc:
            kind = {404: ErrorKind.NOT_FOUND, 409: ErrorKind.CONFLICT}.get(
                exc.status, ErrorKind.INVALID_REQUEST
            )
            code = {404: "not_found", 409: "conflict"}.get(exc.status, "invalid_request")
            return error_response(OPENAI, GatewayError(kind, str(exc), code=code))
        except web.HTTPException:
            raise
        except Exception:
            log.exception("admin request %s %s failed", request.method, request.path)
            internal = GatewayError(
                ErrorKind.INTERNAL, "internal error; see the gateway's log", code="internal_error"
            )
            return error_response(OPENAI, internal)

    return guarded


def _gateway(request: web.Request) -> Gateway:
    return request.app[GATEWAY]


def _json(model: BaseModel, *, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(model.model_dump(mode="json")), content_type=JSON
    )


def _tenant(request: web.Request) -> Tenant:
    name = request.match_info["name"]
    tenant = _gateway(request).directory.tenant(name)
    if tenant is None:
        raise GatewayError(ErrorKind.NOT_FOUND, f"no tenant named {name!r}", code="not_found")
    return tenant


def _tenant_named(gateway: Gateway, name: str) -> Tenant:
    tenant = gateway.directory.tenant(name)
    if tenant is None:
        raise GatewayError(ErrorKind.NOT_FOUND, f"no tenant named {name!r}", code="not_found")
    return tenant


def _changeable_tenant(request: web.Request, verb: str) -> Tenant:
    tenant = _tenant(request)
    if tenant.source == "config":
        raise GatewayError(
            ErrorKind.CONFLICT,
            f"tenant {tenant.name!r} is defined in the config file; {verb} it there",
            code="config_tenant",
        )
    return tenant


def _check_aliases(gateway: Gateway, models: list[str]) -> None:
    known = gateway.runtime.aliases
    unknown = sorted({m for m in models if m not in known})
    if unknown:
        raise GatewayError.invalid(
            f"unknown model aliases: {', '.join(unknown)} (known: {', '.join(sorted(known))})",
            param="models",
        )


async def _body(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    if not raw.strip():
        raise GatewayError.invalid("the request body must be a JSON object", code="invalid_json")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise GatewayError.invalid(
            f"the request body is not valid JSON: {exc}", code="invalid_json"
        ) from exc
    if not isinstance(data, dict):
        raise GatewayError.invalid("the request body must be a JSON object", code="invalid_json")
    try:
        # Strict: JSON has real types, so "yes" is not a boolean and "5" not a number,
        # exactly as the OpenAPI document's schema (built from the same model) says.
        return model.model_validate(_whole_numbers(data), strict=True)
    except ValidationError as exc:
        raise _invalid(exc, "field") from exc


def _whole_numbers(value: Any) -> Any:
    """``5.0`` as ``5``: JSON Schema counts it as an integer, strict pydantic would not.

    A number field still takes it (strict floats accept ints), so nothing else changes.
    """
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise _invalid(exc, "query parameter") from exc


def _invalid(exc: ValidationError, what: str) -> GatewayError:
    """One 400 naming every offending field; ``param`` is the first of them."""
    problems: list[str] = []
    first: str | None = None
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"])
        first = first or field or None
        if error["type"] == "extra_forbidden":
            message = f"unknown {what} {field!r}"
        else:
            text = error["msg"].removeprefix("Value error, ")
            # Name the offending value when it is short and the message does not already.
            given = repr(error.get("input"))
            if (
                isinstance(error.get("input"), str | int | float)
                and len(given) <= 64
                and given not in text
            ):
                text += f" (got {given})"
            message = f"invalid {what} {field!r}: {text}" if field else text
        problems.append(message)
    return GatewayError.invalid("; ".join(problems), param=first)
