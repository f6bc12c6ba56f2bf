"""Tenants and their API keys: who may call, and with which models.

Keys are stored only as SHA-256 hashes. They are long random strings, not
passwords, so a fast unsalted hash is the right tool: lookup stays one dict
access per request and a leaked table reveals no usable key.

Every tenant has an immutable :attr:`Tenant.id`, and everything a tenant
accumulates (cached answers, Idempotency-Key replays, rate windows, budgets,
usage) is kept under it, never under the name: a tenant created under the name
of a deleted one is a new tenant and inherits none of that.

The Directory is the in-memory index the request path reads; where the rows
live is a :class:`DirectoryStore` (SQLite or PostgreSQL). Writes go to the
store first and then rebuild the index, so the index never shows something
the store does not hold; changes made by another process reach the index
through :meth:`Directory.follow`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson

from sluicegate.config import LimitsConfig, TenantConfig
from sluicegate.config.schema import PromptLayerConfig
from sluicegate.state.following import follow

log = logging.getLogger("sluicegate.directory")

KEY_PREFIX = "sk-sg-"
# How much of a key listings show: enough to tell keys apart, too little to use.
KEY_PREFIX_SHOWN = 10


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def new_tenant_id() -> str:
    """The id of a tenant created through the admin API: random, so never reused.

    Deleting a tenant and creating another of the same name gives the new one a
    new id, and with it no cached answers, replays, budget or usage of the old.
    """
    return "ten_" + secrets.token_hex(8)


def config_tenant_id(name: str) -> str:
    """The id of a tenant the config file creates: derived from its name.

    The operator's file is what says which tenant this is, and it names it, so
    the same name is the same tenant across restarts and reloads and on every
    replica. The same holds, by choice, for a name removed from the file and
    later added back: the file says it is that tenant again, so it gets its usage
    history back, and its budget spend and cached answers where they have not
    expired. To start afresh, give it a new name. A tenant the file takes over
    from the admin API keeps the id it had (an id never changes), and one the
    file removes and the admin API then creates is a new tenant.
    """
    return "cfg_" + _name_digest(name)


def legacy_tenant_id(name: str) -> str:
    """The id given, on upgrade, to usage that no tenant existing then can own: a
    deleted tenant's (of any number of deleted tenants of that name, which the
    ledger could not tell apart before tenants had ids)."""
    return "old_" + _name_digest(name)


def _name_digest(name: str) -> str:
    # The PostgreSQL migration computes the same: left(encode(sha256(name), 'hex'), 16).
    return hashlib.sha256(name.encode()).hexdigest()[:16]


class _Unset:
    """Marks an argument that was not given (None is a meaningful value)."""


UNSET = _Unset()


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str  # immutable and never reused: what every per-tenant state is kept under
    name: str
    models: frozenset[str] | None  # None: every alias
    limits: LimitsConfig
    source: str = "admin"
    # The tenant's layer of the system prompt, after the platform's (None: none).
    prompt_layer: PromptLayerConfig | None = None

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


# The api_keys columns an ApiKey is made of, in the order of its fields.
KEY_COLUMNS = "id, tenant, name, prefix, source, created_at, revoked_at"


# The tenants columns a Tenant is made of, in the order tenant_of_row takes them.
TENANT_COLUMNS = "id, name, models, limits, source, prompt_layer"


def tenant_of_row(
    tenant_id: str,
    name: str,
    models: str | None,
    limits: str,
    source: str,
    prompt_layer: str | None = None,
) -> Tenant:
    """A tenants row as both stores keep it (models, limits and the layer as JSON text)."""
    return Tenant(
        id=tenant_id,
        name=name,
        models=None if models is None else frozenset(orjson.loads(models)),
        limits=LimitsConfig.model_validate_json(limits),
        source=source,
        prompt_layer=None
        if prompt_layer is None
        else PromptLayerConfig.model_validate_json(prompt_layer),
    )


def layer_json(layer: PromptLayerConfig | None) -> str | None:
    return None if layer is None else layer.model_dump_json()


def models_json(models: Iterable[str] | None) -> str | None:
    """A tenant's allow-list as stored: sorted JSON, or NULL for every alias."""
    return None if models is None else orjson.dumps(sorted(models)).decode()


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key about to be stored: only its hash and shown prefix, never its plaintext."""

    id: str
    tenant: str
    name: str
    key_hash: str
    prefix: str


class DirectoryError(Exception):
    """A directory change that cannot be made (unknown tenant, duplicate name...)."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class DirectoryStore(Protocol):
    """Where tenants and keys live. SQLite's never suspends; PostgreSQL's does."""

    async def version(self) -> int:
        """A number that changes whenever any process changed tenants or keys."""
        ...

    async def load(self) -> tuple[list[Tenant], list[tuple[str, ApiKey]]]:
        """Every tenant, and every unrevoked key with its hash."""
        ...

    async def sync_config(self, tenants: Sequence[TenantConfig]) -> None:
        """Config tenants new to the store get :func:`config_tenant_id` as their id."""
        ...

    async def create_tenant(
        self,
        tenant_id: str,
        name: str,
        models: Sequence[str] | None,
        limits: LimitsConfig,
        prompt_layer: PromptLayerConfig | None = None,
    ) -> None:
        """Raises DirectoryError(409) when the name is taken."""
        ...

    async def update_tenant(
        self,
        name: str,
        models: Sequence[str] | None,
        limits: LimitsConfig,
        prompt_layer: PromptLayerConfig | None = None,
    ) -> None: ...

    async def delete_tenant(self, name: str) -> None: ...

    async def create_key(self, key: NewKey) -> None:
        """Raises DirectoryError(409) when the tenant already has a key of that name."""
        ...

    async def revoke_key(self, key_id: str) -> None: ...

    async def keys(self, tenant: str | None) -> list[ApiKey]: ...

    async def key(self, key_id: str) -> ApiKey | None: ...

    async def close(self) -> None: ...


class Directory:
    """In-memory index over the store's tenants and keys."""

    def __init__(self, store: DirectoryStore) -> None:
        self.store = store
        self._tenants: dict[str, Tenant] = {}
        self._by_hash: dict[str, tuple[ApiKey, Tenant]] = {}
        self._seen_version = -1

    @classmethod
    async def open(cls, store: DirectoryStore) -> Directory:
        directory = cls(store)
        await directory.refresh()
        return directory

    # -- the hot path --------------------------------------------------------

    def authenticate(self, plaintext: str) -> tuple[ApiKey, Tenant] | None:
        return self._by_hash.get(hash_key(plaintext))

    def tenant(self, name: str) -> Tenant | None:
        return self._tenants.get(name)

    # -- reading -------------------------------------------------------------

    def tenants(self) -> list[Tenant]:
        return sorted(self._tenants.values(), key=lambda t: t.name)

    async def keys(self, tenant: str | None = None) -> list[ApiKey]:
        return await self.store.keys(tenant)

    async def refresh_if_changed(self) -> bool:
        """Rebuild the index when another process (a worker, a replica, the CLI)
        changed the store since we last looked; one cheap query when nothing did."""
        if await self.store.version() == self._seen_version:
            return False
        await self.refresh()
        return True

    async def follow(self, interval_s: float = 1.0) -> None:
        """Keep the index in step with changes made elsewhere, until cancelled.

        A store that cannot be reached leaves the index as it was: requests go
        on being authenticated from memory, and the next poll catches up.
        """
        await follow(self.refresh_if_changed, interval_s, "tenant directory", log)

    async def refresh(self) -> None:
        # The version is read first: a change landing during the load is seen next time.
        version = await self.store.version()
        tenant_list, keys = await self.store.load()
        tenants = {t.name: t for t in tenant_list}
        self._by_hash = {
            digest: (key, tenants[key.tenant]) for digest, key in keys if key.tenant in tenants
        }
        self._tenants = tenants
        self._seen_version = version

    # -- changing ------------------------------------------------------------

    async def sync_config(self, tenants: Iterable[TenantConfig]) -> None:
        """Make the config's tenants and keys present, as the config says.

        Tenants and keys that came from an earlier config but are gone from
        this one are removed; those created through the admin API are kept.
        A tenant new to the store gets the id its name gives
        (:func:`config_tenant_id`); one already there keeps its own.
        A key that was revoked stays revoked while its value is unchanged.
        """
        await self.store.sync_config(list(tenants))
        await self.refresh()

    async def create_tenant(
        self,
        name: str,
        *,
        models: list[str] | None = None,
        limits: LimitsConfig | None = None,
        prompt_layer: PromptLayerConfig | None = None,
    ) -> Tenant:
        await self.store.create_tenant(
            new_tenant_id(), name, None if models is None else sorted(models),
            limits or LimitsConfig(), prompt_layer,
        )
        await self.refresh()
        return self._tenants[name]

    async def update_tenant(
        self,
        name: str,
        *,
        models: list[str] | _Unset | None = UNSET,
        limits: LimitsConfig | None = None,
        prompt_layer: PromptLayerConfig | _Unset | None = UNSET,
    ) -> Tenant:
        current = self._require_tenant(name)
        new_models = current.models if isinstance(models, _Unset) else models
        new_layer = current.prompt_layer if isinstance(prompt_layer, _Unset) else prompt_layer
        await self.store.update_tenant(
            name,
            sorted(new_models) if new_models is not None else None,
            limits or current.limits,
            new_layer,
        )
        await self.refresh()
        return self._tenants[name]

    async def delete_tenant(self, name: str) -> None:
        self._require_tenant(name)
        await self.store.delete_tenant(name)
        await self.refresh()

    async def create_key(self, tenant: str, name: str) -> tuple[ApiKey, str]:
        """Create a key; returns it with its plaintext, which is never stored or shown again."""
        self._require_tenant(tenant)
        plaintext = new_key()
        key = NewKey(
            id=new_key_id(),
            tenant=tenant,
            name=name,
            key_hash=hash_key(plaintext),
            prefix=plaintext[:KEY_PREFIX_SHOWN],
        )
        await self.store.create_key(key)
        await self.refresh()
        return await self._key(key.id), plaintext

    async def revoke_key(self, key_id: str) -> ApiKey:
        await self._key(key_id)
        await self.store.revoke_key(key_id)
        await self.refresh()
        return await self._key(key_id)

    async def _key(self, key_id: str) -> ApiKey:
        key = await self.store.key(key_id)
        if key is None:
            raise DirectoryError(f"no key with id {key_id!r}", status=404)
        return key

    def _require_tenant(self, name: str) -> Tenant:
        tenant = self._tenants.get(name)
        if tenant is None:
            raise DirectoryError(f"no tenant named {name!r}", status=404)
        return tenant
