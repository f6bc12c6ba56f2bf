"""The tenant directory's rows in PostgreSQL, shared by every replica.

Every change bumps ``directory_version`` (a trigger does it, so changes made
by hand count too); each replica polls that one row and reloads its in-memory
index when it moves. A poll a second keeps replicas within about a second of
each other, and it keeps working through a connection drop, where a LISTEN
would silently miss what happened while it was down.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import asyncpg

from sluicegate.config import LimitsConfig, TenantConfig
from sluicegate.config.schema import PromptLayerConfig
from sluicegate.state.directory import (
    KEY_COLUMNS,
    KEY_PREFIX_SHOWN,
    TENANT_COLUMNS,
    ApiKey,
    DirectoryError,
    NewKey,
    Tenant,
    config_tenant_id,
    hash_key,
    layer_json,
    models_json,
    new_key_id,
    tenant_of_row,
)


class PostgresDirectoryStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def version(self) -> int:
        return int(await self._pool.fetchval("SELECT version FROM directory_version"))

    async def load(self) -> tuple[list[Tenant], list[tuple[str, ApiKey]]]:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            tenant_rows = await conn.fetch(f"SELECT {TENANT_COLUMNS} FROM tenants")
            key_rows = await conn.fetch(
                f"SELECT {KEY_COLUMNS}, key_hash FROM api_keys WHERE revoked_at IS NULL"
            )
        tenants = [tenant_of_row(*r) for r in tenant_rows]
        keys = [(r["key_hash"], _api_key(r)) for r in key_rows]
        return tenants, keys

    async def sync_config(self, tenants: Sequence[TenantConfig]) -> None:
        now = time.time()
        async with self._pool.acquire() as conn, conn.transaction():
            # Replicas starting together sync the same config one after another.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('sluicegate_directory'))")
            await conn.execute(
                "DELETE FROM tenants WHERE source = 'config' AND NOT (name = ANY($1::text[]))",
                [t.name for t in tenants],
            )
            for t in tenants:
                # A tenant already there keeps its id: only what the file says changes.
                await conn.execute(
                    "INSERT INTO tenants (id, name, models, limits, source, created_at, "
                    "prompt_layer) VALUES ($5, $1, $2::jsonb, $3::jsonb, 'config', $4, "
                    "$6::jsonb) ON CONFLICT (name) "
                    "DO UPDATE SET models = excluded.models, limits = excluded.limits, "
                    "source = 'config', prompt_layer = excluded.prompt_layer "
                    "WHERE (tenants.models, tenants.limits, tenants.source, tenants.prompt_layer)"
                    " IS DISTINCT FROM "
                    "(excluded.models, excluded.limits, excluded.source, excluded.prompt_layer)",
                    t.name,
                    models_json(t.models),
                    t.limits.model_dump_json(),
                    now,
                    config_tenant_id(t.name),
                    layer_json(t.prompt_layer),
                )
                await conn.execute(
                    "DELETE FROM api_keys WHERE tenant = $1 AND source = 'config' "
                    "AND NOT (name = ANY($2::text[]))",
                    t.name,
                    [k.name for k in t.keys],
                )
                for k in t.keys:
                    digest = hash_key(k.key)
                    await conn.execute(
                        "DELETE FROM api_keys WHERE tenant = $1 AND name = $2 AND key_hash != $3",
                        t.name,
                        k.name,
                        digest,
                    )
                    await conn.execute(
                        "INSERT INTO api_keys (id, tenant, name, key_hash, prefix, source,"
                        " created_at) VALUES ($1, $2, $3, $4, $5, 'config', $6)"
                        " ON CONFLICT (key_hash) DO NOTHING",
                        new_key_id(),
                        t.name,
                        k.name,
                        digest,
                        k.key[:KEY_PREFIX_SHOWN],
                        now,
                    )

    async def create_tenant(
        self,
        tenant_id: str,
        name: str,
        models: Sequence[str] | None,
        limits: LimitsConfig,
        prompt_layer: PromptLayerConfig | None = None,
    ) -> None:
        try:
            await self._pool.execute(
                "INSERT INTO tenants (id, name, models, limits, source, created_at, prompt_layer)"
                " VALUES ($5, $1, $2::jsonb, $3::jsonb, 'admin', $4, $6::jsonb)",
                name,
                models_json(models),
                limits.model_dump_json(),
                time.time(),
                tenant_id,
                layer_json(prompt_layer),
            )
        except asyncpg.UniqueViolationError as exc:
            raise DirectoryError(f"tenant {name!r} already exists", status=409) from exc

    async def update_tenant(
        self,
        name: str,
        models: Sequence[str] | None,
        limits: LimitsConfig,
        prompt_layer: PromptLayerConfig | None = None,
    ) -> None:
        await self._pool.execute(
            "UPDATE tenants SET models = $2::jsonb, limits = $3::jsonb, prompt_layer = $4::jsonb"
            " WHERE name = $1",
            name,
            models_json(models),
            limits.model_dump_json(),
            layer_json(prompt_layer),
        )

    async def delete_tenant(self, name: str) -> None:
        await self._pool.execute("DELETE FROM tenants WHERE name = $1", name)

    async def create_key(self, key: NewKey) -> None:
        try:
            await self._pool.execute(
                "INSERT INTO api_keys (id, tenant, name, key_hash, prefix, source, created_at)"
                " VALUES ($1, $2, $3, $4, $5, 'admin', $6)",
                key.id,
                key.tenant,
                key.name,
                key.key_hash,
                key.prefix,
                time.time(),
            )
        except asyncpg.UniqueViolationError as exc:
            raise DirectoryError(
                f"tenant {key.tenant!r} already has a key named {key.name!r}", status=409
            ) from exc
        except asyncpg.ForeignKeyViolationError as exc:
            raise DirectoryError(f"no tenant named {key.tenant!r}", status=404) from exc

    async def revoke_key(self, key_id: str) -> None:
        await self._pool.execute(
            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            key_id,
            time.time(),
        )

    async def keys(self, tenant: str | None) -> list[ApiKey]:
        sql = f"SELECT {KEY_COLUMNS} FROM api_keys"
        rows = (
            await self._pool.fetch(sql + " WHERE tenant = $1 ORDER BY created_at", tenant)
            if tenant is not None
            else await self._pool.fetch(sql + " ORDER BY tenant, created_at")
        )
        return [_api_key(r) for r in rows]

    async def key(self, key_id: str) -> ApiKey | None:
        row = await self._pool.fetchrow(
            f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1", key_id
        )
        return None if row is None else _api_key(row)

    async def close(self) -> None:
        """The pool belongs to whoever opened it (the ledger shares it)."""


def _api_key(r: asyncpg.Record) -> ApiKey:
    return ApiKey(
        id=r["id"],
        tenant=r["tenant"],
        name=r["name"],
        prefix=r["prefix"],
        source=r["source"],
        created_at=r["created_at"],
        revoked_at=r["revoked_at"],
    )
