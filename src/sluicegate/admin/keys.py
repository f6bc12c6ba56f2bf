"""Admin handlers for API keys: list, create and revoke.

A key is revoked, never deleted: it stays listed, so the key names in the
ledger keep a meaning. Its plaintext is shown once, in the creation's answer.
"""

from __future__ import annotations

from aiohttp import web

from sluicegate.admin.http import gateway_of, json_answer, path_tenant, read_body
from sluicegate.admin.schemas import KeyCreate, KeyCreated, KeyList, KeyOut

__all__ = ["create_key", "delete_key", "list_keys", "list_tenant_keys", "revoke_key"]


async def list_tenant_keys(request: web.Request) -> web.Response:
    tenant = path_tenant(request)
    keys = await gateway_of(request).directory.keys(tenant.name)
    return json_answer(KeyList(data=[KeyOut.of(k) for k in keys]))


async def create_key(request: web.Request) -> web.Response:
    tenant = path_tenant(request)
    body = await read_body(request, KeyCreate)
    key, plaintext = await gateway_of(request).directory.create_key(tenant.name, body.name)
    return json_answer(KeyCreated.with_plaintext(key, plaintext), status=201)


async def list_keys(request: web.Request) -> web.Response:
    keys = await gateway_of(request).directory.keys()
    return json_answer(KeyList(data=[KeyOut.of(k) for k in keys]))


async def revoke_key(request: web.Request) -> web.Response:
    key = await gateway_of(request).directory.revoke_key(request.match_info["id"])
    return json_answer(KeyOut.of(key))


async def delete_key(request: web.Request) -> web.Response:
    """DELETE revokes too: the key stays listed, so the ledger's key names keep a meaning."""
    return await revoke_key(request)
