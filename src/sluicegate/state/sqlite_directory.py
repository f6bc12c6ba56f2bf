"""The tenant directory's rows in SQLite.

Its methods are coroutines only to share the :class:`DirectoryStore`
interface with PostgreSQL: they never suspend, each runs to completion on the
event loop, like the rest of the embedded store.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

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
from sluicegate.state.sqlite import transaction


class SQLiteDirectoryStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def version(self) -> int:
        # Changes when another connection commits; our own writes refresh directly.
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    async def load(self) -> tuple[list[Tenant], list[tuple[str, ApiKey]]]:
        tenants = [
            tenant_of_row(*row)
            for row in self._conn.execute(f"SELECT {TENANT_COLUMNS} FROM tenants")
        ]
        keys = [
            (row[7], ApiKey(*row[:7]))
            for row in self._conn.execute(
                f"SELECT {KEY_COLUMNS}, key_hash FROM api_keys WHERE revoked_at IS NULL"
            )
        ]
        return tenants, keys

    async def sync_config(self, tenants: Sequence[TenantConfig]) -> None:
        now = time.time()
        with transaction(self._conn):
            names = [t.name for t in tenants]
            placeholders = ",".join("?" * len(names)) or "''"
            self._conn.execute(
                f"DELETE FROM tenants WHERE source = 'config' AND name NOT IN ({placeholders})",
                names,
            )
            for t in tenants:
                # A tenant already there keeps its id: only what the file says changes.
                self._conn.execute(
                    "INSERT INTO tenants (id, name, models, limits, source, created_at, "
                    "prompt_layer) VALUES (?, ?, ?, ?, 'config', ?, ?) ON CONFLICT (name) DO "
                    "UPDATE SET models = excluded.models, limits = excluded.limits, "
                    "source = 'config', prompt_layer = excluded.prompt_layer",
                    (
                        config_tenant_id(t.name),
                        t.name,
                        models_json(t.models),
                        t.limits.model_dump_json(),
                        now,
                        layer_json(t.prompt_layer),
                    ),
                )
                key_names = [k.name for k in t.keys]
                kp = ",".join("?" * len(key_names)) or "''"
                self._conn.execute(
                    f"DELETE FROM api_keys WHERE tenant = ? AND source = 'config' "
                    f"AND name NOT IN ({kp})",
                    [t.name, *key_names],
                )
                for k in t.keys:
                    digest = hash_key(k.key)
                    self._conn.execute(
                        "DELETE FROM api_keys WHERE tenant = ? AND name = ? AND key_hash != ?",
                        (t.name, k.name, digest),
                    )
                    self._conn.execute(
                        "INSERT INTO api_keys (id, tenant, name, key_hash, prefix, source,"
                        " created_at) VALUES (?, ?, ?, ?, ?, 'config', ?)"
                        " ON CONFLICT (key_hash) DO NOTHING",
                        (new_key_id(), t.name, k.name, digest, k.key[:KEY_PREFIX_SHOWN], now),
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
            with transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO tenants (id, name, models, limits, source, created_at, "
                    "prompt_layer) VALUES (?, ?, ?, ?, 'admin', ?, ?)",
                    (tenant_id, name, models_json(models), limits.model_dump_json(), time.time(),
                     layer_json(prompt_layer)),
                )
        except sqlite3.IntegrityError as exc:
            raise DirectoryError(f"tenant {name!r} already exists", status=409) from exc

    async def update_tenant(
        self,
        name: str,
        models: Sequence[str] | None,
        limits: LimitsConfig,
        prompt_layer: PromptLayerConfig | None = None,
    ) -> None:
        with transaction(self._conn):
            self._conn.execute(
                "UPDATE tenants SET models = ?, limits = ?, prompt_layer = ? WHERE name = ?",
                (models_json(models), limits.model_dump_json(), layer_json(prompt_layer), name),
            )

    async def delete_tenant(self, name: str) -> None:
        with transaction(self._conn):
            self._conn.execute("DELETE FROM tenants WHERE name = ?", (name,))

    async def create_key(self, key: NewKey) -> None:
        try:
            with transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO api_keys (id, tenant, name, key_hash, prefix, source, created_at)"
                    " VALUES (?, ?, ?, ?, ?, 'admin', ?)",
                    (key.id, key.tenant, key.name, key.key_hash, key.prefix, time.time()),
                )
        except sqlite3.IntegrityError as exc:
            raise DirectoryError(
                f"tenant {key.tenant!r} already has a key named {key.name!r}", status=409
            ) from exc

    async def revoke_key(self, key_id: str) -> None:
        with transaction(self._conn):
            self._conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (time.time(), key_id),
            )

    async def keys(self, tenant: str | None) -> list[ApiKey]:
        sql = f"SELECT {KEY_COLUMNS} FROM api_keys"
        rows = (
            self._conn.execute(sql + " WHERE tenant = ? ORDER BY created_at", (tenant,))
            if tenant is not None
            else self._conn.execute(sql + " ORDER BY tenant, created_at")
        )
        return [ApiKey(*row) for row in rows]

    async def key(self, key_id: str) -> ApiKey | None:
        row = self._conn.execute(
            f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)
        ).fetchone()
        return None if row is None else ApiKey(*row)

    async def close(self) -> None:
        """The connection belongs to whoever opened it (it also serves the ledger)."""
