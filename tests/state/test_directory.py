"""The tenant directory: keys as hashes, and changes made by other processes or replicas.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sluicegate.config import LimitsConfig, TenantConfig
from sluicegate.state.directory import Directory, DirectoryError, config_tenant_id, hash_key
from state.stores import BACKENDS, opened, storage_url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return storage_url(request.param, tmp_path, request)


async def test_a_key_is_stored_only_as_its_hash(url: str) -> None:
    async with opened(url) as storage:
        directory = await Directory.open(storage.directory)
        await directory.create_tenant("acme")
        _, plaintext = await directory.create_key("acme", "ci")
        _, keys = await storage.directory.load()
        assert [(digest, key.prefix) for digest, key in keys] == [
            (hash_key(plaintext), plaintext[:10])
        ]
        found = directory.authenticate(plaintext)
        assert found is not None and found[1].name == "acme"


async def test_changes_by_another_process_are_picked_up(url: str) -> None:
    async with opened(url) as a, opened(url) as b:
        worker_a = await Directory.open(a.directory)
        worker_b = await Directory.open(b.directory)
        await worker_a.refresh_if_changed()  # worker B's start-up may have written
        assert await worker_a.refresh_if_changed() is False, "nothing changed: no rebuild"
        await worker_b.create_tenant("acme")
        _, plaintext = await worker_b.create_key("acme", "ci")
        assert worker_a.authenticate(plaintext) is None
        assert await worker_a.refresh_if_changed() is True
        assert worker_a.authenticate(plaintext) is not None
        key = (await worker_b.keys("acme"))[0]
        await worker_b.revoke_key(key.id)
        assert await worker_a.refresh_if_changed() is True
        assert worker_a.authenticate(plaintext) is None, "a revocation reaches every worker"


async def test_config_tenants_are_synced_and_admin_ones_kept(url: str) -> None:
    async with opened(url) as storage:
        directory = await Directory.open(storage.directory)
        await directory.create_tenant("by-admin", models=["smart"])
        config = [
            TenantConfig(
                name="acme",
                limits=LimitsConfig(rpm=60, budget_usd=10),
                keys=[{"name": "ci", "key": "sk-acme-0001"}],  # type: ignore[list-item]
            )
        ]
        await directory.sync_config(config)
        await directory.sync_config(config)  # twice: nothing doubles
        assert [t.name for t in directory.tenants()] == ["acme", "by-admin"]
        acme = directory.tenant("acme")
        assert acme is not None and acme.limits.rpm == 60 and acme.source == "config"
        found = directory.authenticate("sk-acme-0001")
        assert found is not None and found[0].name == "ci"
        await directory.sync_config([])
        assert [t.name for t in directory.tenants()] == ["by-admin"]
        assert directory.authenticate("sk-acme-0001") is None


async def test_duplicates_and_unknown_names_are_refused(url: str) -> None:
    async with opened(url) as storage:
        directory = await Directory.open(storage.directory)
        await directory.create_tenant("acme")
        with pytest.raises(DirectoryError) as taken:
            await directory.create_tenant("acme")
        assert taken.value.status == 409
        await directory.create_key("acme", "ci")
        with pytest.raises(DirectoryError) as twice:
            await directory.create_key("acme", "ci")
        assert twice.value.status == 409
        with pytest.raises(DirectoryError) as missing:
            await directory.revoke_key("key_nope")
        assert missing.value.status == 404
        updated = await directory.update_tenant("acme", models=["a", "b"])
        assert updated.models == frozenset({"a", "b"})
        await directory.delete_tenant("acme")
        assert directory.tenants() == [] and await directory.keys() == []


def id_of(directory: Directory, name: str) -> str:
    tenant = directory.tenant(name)
    assert tenant is not None, name
    return tenant.id


async def test_a_tenant_created_again_under_a_deleted_ones_name_gets_a_new_id(url: str) -> None:
    async with opened(url) as storage:
        directory = await Directory.open(storage.directory)
        first = await directory.create_tenant("acme")
        updated = await directory.update_tenant("acme", limits=LimitsConfig(rpm=5))
        assert updated.id == first.id, "a change is the same tenant"
        await directory.delete_tenant("acme")
        again = await directory.create_tenant("acme")
        assert again.id != first.id and again.id.startswith("ten_")


async def test_a_config_tenants_id_comes_from_its_name(url: str) -> None:
    """The same name in the file is the same tenant: across syncs, restarts and replicas,
    and when it comes back to the file after being removed."""
    acme = TenantConfig(name="acme")
    async with opened(url) as storage:
        directory = await Directory.open(storage.directory)
        await directory.create_tenant("by-admin")
        admin_id = id_of(directory, "by-admin")
        await directory.sync_config([acme, TenantConfig(name="by-admin")])
        assert id_of(directory, "acme") == config_tenant_id("acme")
        taken_over = directory.tenant("by-admin")
        assert taken_over is not None and taken_over.source == "config"
        assert taken_over.id == admin_id, "a tenant the file takes over keeps its id"
        await directory.sync_config([])
        await directory.sync_config([acme])
        assert id_of(directory, "acme") == config_tenant_id("acme")
    async with opened(url) as restarted:
        directory = await Directory.open(restarted.directory)
        await directory.sync_config([acme])
        assert id_of(directory, "acme") == config_tenant_id("acme")
