"""Admin handlers for tenants: list, create, read, change and delete.

Tenants from the config file are read here but changed only in the file (409),
so that a reload never silently undoes an API change.
"""

from __future__ import annotations

from aiohttp import web

from sluicegate.admin.http import gateway_of, json_answer, path_tenant, read_body, read_query
from sluicegate.admin.limits_patch import merge_limits
from sluicegate.admin.lint_answer import lint_failed
from sluicegate.admin.schemas import (
    LayerQuery,
    TenantCreate,
    TenantDeleted,
    TenantList,
    TenantOut,
    TenantUpdate,
)
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.gateway import Gateway
from sluicegate.prompts.lint import LintContext, has_errors, lint_layer
from sluicegate.state.directory import UNSET, Tenant

__all__ = ["create_tenant", "delete_tenant", "get_tenant", "list_tenants", "update_tenant"]


async def list_tenants(request: web.Request) -> web.Response:
    tenants = gateway_of(request).directory.tenants()
    return json_answer(TenantList(data=[TenantOut.of(t) for t in tenants]))


async def create_tenant(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    force = read_query(request, LayerQuery).force
    body = await read_body(request, TenantCreate)
    if body.models is not None:
        _check_aliases(gateway, body.models)
    if body.prompt_layer is not None and (refused := _lint_layer(gateway, body, force)):
        return refused
    tenant = await gateway.directory.create_tenant(
        body.name, models=body.models, limits=body.limits, prompt_layer=body.prompt_layer
    )
    return json_answer(TenantOut.of(tenant), status=201)


async def get_tenant(request: web.Request) -> web.Response:
    return json_answer(TenantOut.of(path_tenant(request)))


async def update_tenant(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    tenant = _changeable_tenant(request, "change")
    force = read_query(request, LayerQuery).force
    body = await read_body(request, TenantUpdate)
    # Absent and null differ for models (null allows every alias again) and the layer.
    models = body.models if "models" in body.model_fields_set else UNSET
    if isinstance(models, list):
        _check_aliases(gateway, models)
    layer = body.prompt_layer if "prompt_layer" in body.model_fields_set else UNSET
    if body.prompt_layer is not None and (refused := _lint_layer(gateway, body, force)):
        return refused
    limits = None if body.limits is None else merge_limits(tenant.limits, body.limits)
    updated = await gateway.directory.update_tenant(
        tenant.name, models=models, limits=limits, prompt_layer=layer
    )
    return json_answer(TenantOut.of(updated))


async def delete_tenant(request: web.Request) -> web.Response:
    """Its cached answers, Idempotency-Key answers, limits and usage are kept by its id,
    which no later tenant gets: nothing of them reaches a tenant created under its name."""
    tenant = _changeable_tenant(request, "remove")
    await gateway_of(request).directory.delete_tenant(tenant.name)
    return json_answer(TenantDeleted(name=tenant.name, id=tenant.id))


def _changeable_tenant(request: web.Request, verb: str) -> Tenant:
    tenant = path_tenant(request)
    if tenant.source == "config":
        raise GatewayError(
            ErrorKind.CONFLICT,
            f"tenant {tenant.name!r} is defined in the config file; {verb} it there",
            code=ErrorCode.CONFIG_TENANT,
        )
    return tenant


def _lint_layer(
    gateway: Gateway, body: TenantCreate | TenantUpdate, force: bool
) -> web.Response | None:
    """The 422 for a layer the linter finds errors in (None: it may be stored)."""
    assert body.prompt_layer is not None
    context = LintContext(locked=gateway.runtime.layers.locked())
    findings = lint_layer(body.prompt_layer.system, "prompt_layer.system", context)
    return lint_failed(findings) if has_errors(findings) and not force else None


def _check_aliases(gateway: Gateway, models: list[str]) -> None:
    known = gateway.runtime.aliases
    unknown = sorted({m for m in models if m not in known})
    if unknown:
        raise GatewayError.invalid(
            f"unknown model aliases: {', '.join(unknown)} (known: {', '.join(sorted(known))})",
            param="models",
        )
