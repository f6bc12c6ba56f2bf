"""Tenants and their API keys: who may call, and with which models.

Keys are stored only as SHA-256 hashes. They are long random strings, not
passwords, so a fast unsalted hash is the right tool: lookup stays one dict
access per request and a leaked table reveals no usable key.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from sluicegate.config import LimitsConfig, TenantConfig

KEY_PREFIX = "sk-sg-"
# How much of a key listings show: enough to tell keys apart, too little to use.
KEY_PREFIX_SHOWN = 10


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class _Unset:
    """Marks an argument that was not given (None is a meaningful value)."""


UNSET = _Unset()


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    models: frozenset[str] | None  # None: every alias
    limits: LimitsConfig
    source: str = "admin"

    def may_use(self, alias: str) -> bool:
        return self.models is None or alias in self.models


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    tenant: str
    name: str
    prefix: str
    source: str
    created_at: float
    revoked_at: float | None


class DirectoryError(Exception):
    """A directory change that cannot be made (unknown tenant, duplicate name...)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Directory:
    """In-memory index over the tenants and keys table.

    Reads (every request) hit only the in-memory dicts; writes go to the
    database first and then rebuild the index, so the index never shows
    something the database does not hold.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._tenants: dict[str, Tenant] = {}
        self._by_hash: dict[str, tuple[ApiKey, Tenant]] = {}
        self._seen_version = -1
        self.refresh()

    # -- the hot path --------------------------------------------------------

    def authenticate(self, plaintext: str) -> tuple[ApiKey, Tenant] | None:
        return self._by_hash.get(hash_key(plaintext))

    def tenant(self, name: str) -> Tenant | None:
        return self._tenants.get(name)

    # -- reading -------------------------------------------------------------

    def tenants(self) -> list[Tenant]:
        return sorted(self._tenants.values(), key=lambda t: t.name)

    def keys(self, tenant: str | None = None) -> list[ApiKey]:
        sql = "SELECT id, tenant, name, prefix, source, created_at, revoked_at FROM api_keys"
        rows = (
            self._conn.execute(sql + " WHERE tenant = ? ORDER BY created_at", (tenant,))
            if tenant is not None
            else self._conn.execute(sql + " ORDER BY tenant, created_at")
        )
        return [ApiKey(*row) for row in rows]

    def refresh_if_changed(self) -> bool:
        """Rebuild the index when another process (a worker, the CLI) changed the
        database since we last looked; one cheap PRAGMA when nothing did."""
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version == self._seen_version:
            return False
        self.refresh()
        return True

    async def follow(self, interval_s: float = 1.0) -> None:
        """Keep the index in step with changes made elsewhere, until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            self.refresh_if_changed()

    def refresh(self) -> None:
        self._seen_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        tenants = {
            name: Tenant(
                name=name,
                models=None if models is None else frozenset(orjson.loads(models)),
                limits=LimitsConfig.model_validate(orjson.loads(limits)),
                source=source,
            )
            for name, models, limits, source in self._conn.execute(
                "SELECT name, models, limits, source FROM tenants"
            )
        }
        by_hash: dict[str, tuple[ApiKey, Tenant]] = {}
        for row in self._conn.execute(
            "SELECT id, tenant, name, prefix, source, created_at, revoked_at, key_hash "
            "FROM api_keys WHERE revoked_at IS NULL"
        ):
            key = ApiKey(*row[:7])
            by_hash[row[7]] = (key, tenants[key.tenant])
        self._tenants, self._by_hash = tenants, by_hash

    # -- changing ------------------------------------------------------------

    def sync_config(self, tenants: Iterable[TenantConfig]) -> None:
        """Make the config's tenants and keys present, as the config says.

        Tenants and keys that came from an earlier config but are gone from
        this one are removed; those created through the admin API are kept.
        A key that was revoked stays revoked while its value is unchanged.
        """
        now = time.time()
        wanted = list(tenants)
        with _transaction(self._conn):
            names = [t.name for t in wanted]
            placeholders = ",".join("?" * len(names)) or "''"
            self._conn.execute(
                f"DELETE FROM tenants WHERE source = 'config' AND name NOT IN ({placeholders})",
                names,
            )
            for t in wanted:
                self._conn.execute(
                    "INSERT INTO tenants (name, models, limits, source, created_at) "
                    "VALUES (?, ?, ?, 'config', ?) ON CONFLICT (name) DO UPDATE SET "
                    "models = excluded.models, limits = excluded.limits, source = 'config'",
                    (t.name, _models_json(t.models), t.limits.model_dump_json(), now),
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
                        (_key_id(), t.name, k.name, digest, k.key[:KEY_PREFIX_SHOWN], now),
                    )
        self.refresh()

    def create_tenant(
        self, name: str, *, models: list[str] | None = None, limits: LimitsConfig | None = None
    ) -> Tenant:
        try:
            with _transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO tenants (name, models, limits, source, created_at) "
                    "VALUES (?, ?, ?, 'admin', ?)",
                    (
                        name,
                        _models_json(models),
                        (limits or LimitsConfig()).model_dump_json(),
                        time.time(),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise DirectoryError(f"tenant {name!r} already exists", status=409) from exc
        self.refresh()
        return self._tenants[name]

    def update_tenant(
        self,
        name: str,
        *,
        models: list[str] | _Unset | None = UNSET,
        limits: LimitsConfig | None = None,
    ) -> Tenant:
        current = self._require_tenant(name)
        new_models = current.models if isinstance(models, _Unset) else models
        with _transaction(self._conn):
            self._conn.execute(
                "UPDATE tenants SET models = ?, limits = ? WHERE name = ?",
                (
                    _models_json(sorted(new_models) if new_models is not None else None),
                    (limits or current.limits).model_dump_json(),
                    name,
                ),
            )
        self.refresh()
        return self._tenants[name]

    def delete_tenant(self, name: str) -> None:
        self._require_tenant(name)
        with _transaction(self._conn):
            self._conn.execute("DELETE FROM tenants WHERE name = ?", (name,))
        self.refresh()

    def create_key(self, tenant: str, name: str) -> tuple[ApiKey, str]:
        """Create a key; returns it with its plaintext, which is never stored or shown again."""
        self._require_tenant(tenant)
        plaintext = new_key()
        key_id = _key_id()
        try:
            with _transaction(self._conn):
                self._conn.execute(
                    "INSERT INTO api_keys (id, tenant, name, key_hash, prefix, source, created_at)"
                    " VALUES (?, ?, ?, ?, ?, 'admin', ?)",
                    (
                        key_id,
                        tenant,
                        name,
                        hash_key(plaintext),
                        plaintext[:KEY_PREFIX_SHOWN],
                        time.time(),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise DirectoryError(
                f"tenant {tenant!r} already has a key named {name!r}", status=409
            ) from exc
        self.refresh()
        return self._key(key_id), plaintext

    def revoke_key(self, key_id: str) -> ApiKey:
        self._key(key_id)
        with _transaction(self._conn):
            self._conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (time.time(), key_id),
            )
        self.refresh()
        return self._key(key_id)

    def _key(self, key_id: str) -> ApiKey:
        row = self._conn.execute(
            "SELECT id, tenant, name, prefix, source, created_at, revoked_at FROM api_keys "
            "WHERE id = ?",
            (key_id,),
        ).fetchone()
        if row is None:
            raise DirectoryError(f"no key with id {key_id!r}", status=404)
        return ApiKey(*row)

    def _require_tenant(self, name: str) -> Tenant:
        tenant = self._tenants.get(name)
        if tenant is None:
            raise DirectoryError(f"no tenant named {name!r}", status=404)
        return tenant


def _models_json(models: Iterable[str] | None) -> str | None:
    return None if models is None else orjson.dumps(sorted(models)).decode()


def _key_id() -> str:
    return "key_" + secrets.token_hex(8)


class _transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
