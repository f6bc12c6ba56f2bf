"""The admin HTTP API under /admin: its one route table, and the admin-key wrapper.

:data:`OPERATIONS` is the one route table: the router (``add_admin_routes``)
and the OpenAPI document (GET /admin/openapi.json, built by
:mod:`sluicegate.admin.openapi`) are both made from it, so the document lists
exactly what is served. Every route, the document included, needs the admin
key, checked by the wrapper every handler is served through.

The handlers live with their resource: :mod:`~sluicegate.admin.tenants`,
:mod:`~sluicegate.admin.keys`, :mod:`~sluicegate.admin.usage` (usage, forecast,
requests), :mod:`~sluicegate.admin.models` (models, targets),
:mod:`~sluicegate.admin.cache` and :mod:`~sluicegate.admin.reload`. They are
thin: validate with the pydantic models in :mod:`sluicegate.admin.schemas`
(bodies strictly: no type coercion; see :mod:`sluicegate.admin.http`), call the
Directory, ledger or Gateway, and shape the answer.

Errors use the OpenAI error body, like the rest of the gateway's own API.
"""

from __future__ import annotations

import functools
import logging

import orjson
from aiohttp import web

from sluicegate.admin.alerts import list_alerts
from sluicegate.admin.cache import cache_report_view, invalidate_cache
from sluicegate.admin.datasets import DATASET_OPERATIONS
from sluicegate.admin.http import gateway_of
from sluicegate.admin.keys import create_key, delete_key, list_keys, list_tenant_keys, revoke_key
from sluicegate.admin.model_cards import get_model_card, reset_baseline
from sluicegate.admin.models import list_models, list_targets
from sluicegate.admin.observability_schemas import (
    AlertList,
    AlertsQuery,
    BaselineReset,
    CardQuery,
    ModelCard,
    SessionList,
    SessionsQuery,
)
from sluicegate.admin.openapi import Handler, Operation, build_openapi
from sluicegate.admin.prompt_schemas import (
    LabelMove,
    LabelMoved,
    LintResult,
    PromptDetail,
    PromptList,
    PromptListQuery,
    Rendered,
    RenderRequest,
    VersionCreated,
    VersionCreateQuery,
)
from sluicegate.admin.prompts import (
    create_version,
    get_prompt,
    get_version,
    lint_prompt,
    list_prompts,
    move_label,
    render_prompt,
)
from sluicegate.admin.reload import reload_config
from sluicegate.admin.schemas import (
    CacheInvalidate,
    CacheInvalidated,
    CacheReport,
    CacheReportQuery,
    ForecastList,
    ForecastQuery,
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyOut,
    LayerQuery,
    ModelList,
    Reloaded,
    RequestList,
    RequestsQuery,
    TargetHealthList,
    TenantCreate,
    TenantDeleted,
    TenantList,
    TenantOut,
    TenantUpdate,
    UsageOut,
    UsageQuery,
)
from sluicegate.admin.sessions import list_sessions
from sluicegate.admin.tenants import (
    create_tenant,
    delete_tenant,
    get_tenant,
    list_tenants,
    update_tenant,
)
from sluicegate.admin.usage import list_requests, usage, usage_forecast
from sluicegate.auth.admin_key import check_admin_key
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.http_errors import JSON, error_response
from sluicegate.prompts.document import PromptDocument
from sluicegate.protocols.wire import OPENAI
from sluicegate.state.directory import DirectoryError

__all__ = ["OPERATIONS", "add_admin_routes", "openapi_document"]

log = logging.getLogger("sluicegate.admin")


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=openapi_document(), content_type=JSON)


@functools.cache
def openapi_document() -> bytes:
    """The OpenAPI document, built once: the route table does not change at run time."""
    return orjson.dumps(
        build_openapi(
            OPERATIONS,
            path_params={
                "name": "The tenant's name.",
                "id": "The key's id (key_...).",
                "prompt": "The prompt's name ([a-z0-9][a-z0-9._-]{0,63}).",
                "version": "A version number, a label or `latest`.",
                "label": "A label ([a-z][a-z0-9._-]{0,63}; not `latest`).",
                "alias": "A model alias of the configuration.",
            },
        )
    )


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
        query=LayerQuery,
        errors=(400, 409, 422),
        description="`models` must name configured aliases. A `prompt_layer` the prompt linter "
        "finds an error in answers 422 with the findings under `lint`, unless `force=true`.",
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
        query=LayerQuery,
        errors=(400, 404, 409, 422),
        description="Only what is given changes. `models` replaces the allowed aliases (null: "
        "every alias; each must name a configured alias). `limits` is merged into the current "
        "limits: a field given replaces its value, a field left out keeps it, and null clears "
        "a limit (unlimited again); `keys` and `models` inside it merge the same way per key "
        "name and per alias, and an entry left with every field at its default is removed. "
        'So `{"limits": {"rpm": 4}}` changes rpm and nothing else. Tenants from the '
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
        "Without Redis each worker process of `serve --workers N` has its own cache, and this "
        "empties every worker's (`invalidated` counts them all; a worker that could not be "
        "reached makes it a 500, `cache_invalidation_incomplete`); with Redis unreachable the "
        "answer is a 503 (`cache_unavailable`).",
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
    Operation(
        "GET",
        "/admin/prompts",
        list_prompts,
        "List prompts",
        "prompts",
        PromptList,
        query=PromptListQuery,
        errors=(400, 404),
    ),
    Operation(
        "POST",
        "/admin/prompts/lint",
        lint_prompt,
        "Lint a version document",
        "prompts",
        LintResult,
        body=PromptDocument,
        errors=(400,),
        description="The findings the linter would report if the document were pushed, "
        "with the running configuration's locked layers and the alias's context window.",
    ),
    Operation(
        "POST",
        "/admin/prompts/{prompt}/versions",
        create_version,
        "Create a version",
        "prompts",
        VersionCreated,
        status=201,
        body=PromptDocument,
        query=VersionCreateQuery,
        errors=(400, 409, 422),
        description="Content identical to an existing version answers 200 with that "
        "version. A lint finding of severity `error` answers 422 with every finding under "
        "`lint`, unless `force=true`. `name` may be left out of the body (the path's).",
    ),
    Operation(
        "GET",
        "/admin/prompts/{prompt}",
        get_prompt,
        "Get a prompt",
        "prompts",
        PromptDetail,
        errors=(400, 404),
    ),
    Operation(
        "GET",
        "/admin/prompts/{prompt}/versions/{version}",
        get_version,
        "Get a version document",
        "prompts",
        None,
        errors=(400, 404),
        description="`version` is a number, a label or `latest`; the answer is the "
        "document with `version`, `hash` and `created_at`.",
    ),
    Operation(
        "PUT",
        "/admin/prompts/{prompt}/labels/{label}",
        move_label,
        "Point a label at a version",
        "prompts",
        LabelMoved,
        body=LabelMove,
        errors=(400, 404, 409),
        description="Every replica serves the new version within a second. With "
        "`expected_version`, the move happens only if the label still points there.",
    ),
    Operation(
        "POST",
        "/admin/prompts/{prompt}/render",
        render_prompt,
        "What the upstream would receive",
        "prompts",
        Rendered,
        body=RenderRequest,
        errors=(400, 404),
        description="The prompt rendered for `variables` as `tenant` sees it, composed "
        "with the platform and tenant layers and the request's own `messages`.",
    ),
    # -- observability: alerts, sessions, model cards -------------------------
    Operation(
        "GET",
        "/admin/alerts",
        list_alerts,
        "Alerts raised",
        "observability",
        AlertList,
        query=AlertsQuery,
        errors=(400,),
        description="Every alert (budget, forecast, drift, model_changed, rollout, "
        "lifecycle), newest first, from the shared store: each is raised once for all "
        "replicas. Also logged, counted in `sluicegate_alerts_total{type}` and POSTed to "
        "`admission.alert_webhook`.",
    ),
    Operation(
        "GET",
        "/admin/sessions",
        list_sessions,
        "Sessions (x-sluicegate-session)",
        "observability",
        SessionList,
        query=SessionsQuery,
        errors=(400, 404),
        description="Per tenant and session id, over the requests in [since, until): "
        "requests, tokens, cost, first and last request, errors (status ≥ 400) and the "
        "feedback given, by name; the most recently active first.",
    ),
    Operation(
        "GET",
        "/admin/models/{alias}/card",
        get_model_card,
        "An alias's model card",
        "observability",
        ModelCard,
        query=CardQuery,
        errors=(400, 404),
        text_types=("text/markdown",),
        description="From the ledger (the same on every replica): requests, errors by code, "
        "latency and time-to-first-token percentiles, output tokens, finish reasons, refusal, "
        "contract-valid and cache-hit rates, cost per request, the models the upstream said "
        "served it and feedback by name, over the window (default: the last 24 hours), beside "
        "the same figures for its baseline (default: the 7 days before the window; with "
        "`observability.drift.baseline_requests: N` its first N requests), and each drift "
        "test: the sequential test's verdict (`alert`) and a fixed-sample `p_value` beside "
        "it. A baseline too small to test says so in `note`. `format=markdown` answers the "
        "card as Markdown.",
    ),
    Operation(
        "POST",
        "/admin/models/{alias}/baseline",
        reset_baseline,
        "Start an alias's baseline again",
        "observability",
        BaselineReset,
        errors=(404,),
        description="With `observability.drift.baseline_requests: N`, the alias's next N "
        "requests become its baseline (after a deliberate change: a new model, a new prompt).",
    ),
    # Datasets (storage.bodies): GET /admin/datasets/export.
    *DATASET_OPERATIONS,
    Operation("GET", "/admin/openapi.json", openapi_json, "This document", "operations", None),
)


def add_admin_routes(app: web.Application) -> None:
    for op in OPERATIONS:
        app.router.add_route(op.method, op.path, _guarded(op.handler))


# -- the admin-key wrapper ----------------------------------------------------


def _guarded(handler: Handler) -> Handler:
    """Check the admin key, then run ``handler``, rendering its errors as JSON bodies."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            check_admin_key(request.headers, gateway_of(request).config.server.admin_key)
            return await handler(request)
        except GatewayError as err:
            return error_response(OPENAI, err)
        except DirectoryError as exc:
            kind = {404: ErrorKind.NOT_FOUND, 409: ErrorKind.CONFLICT}.get(
                exc.status, ErrorKind.INVALID_REQUEST
            )
            code = {404: ErrorCode.NOT_FOUND, 409: ErrorCode.CONFLICT}.get(
                exc.status, ErrorCode.INVALID_REQUEST
            )
            return error_response(OPENAI, GatewayError(kind, str(exc), code=code))
        except web.HTTPException:
            raise
        except Exception:
            log.exception("admin request %s %s failed", request.method, request.path)
            internal = GatewayError(
                ErrorKind.INTERNAL,
                "internal error; see the gateway's log",
                code=ErrorCode.INTERNAL_ERROR,
            )
            return error_response(OPENAI, internal)

    return guarded
