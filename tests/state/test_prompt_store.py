"""The prompt registry on its real stores: SQLite, and PostgreSQL shared by replicas."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from sluicegate.canonical import GatewayError
from sluicegate.prompts import PromptDocument, PromptRegistry
from sluicegate.state.prompt_store import PromptStore, PromptStoreError
from sluicegate.state.storage import Storage
from state.stores import BACKENDS, opened, storage_url


def document(text: str = "You answer for {{ product }}.", **fields: object) -> PromptDocument:
    return PromptDocument.model_validate(
        {"name": "support", "messages": [{"role": "system", "content": text}], **fields}
    )


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return storage_url(request.param, tmp_path, request)


@pytest.fixture
async def storage(url: str):  # type: ignore[no-untyped-def]
    async with opened(url) as storage:
        yield storage


async def test_identical_content_is_the_same_version_and_new_content_the_next(
    storage: Storage,
) -> None:
    registry = await PromptRegistry.open(storage.prompts)
    first = await registry.add_version(document(), tenant_id=None)
    # The same content spelled another way (a field at its default, keys reordered).
    again = await registry.add_version(
        PromptDocument.model_validate({"messages": [{"content": "You answer for {{ product }}.",
                                                     "role": "system"}],
                                       "name": "support", "params": {}}),
        tenant_id=None,
    )
    second = await registry.add_version(document("v2 {{ product }}"), tenant_id=None)
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created, again.hash) == (1, False, first.hash)
    assert second.version == 2
    assert registry.resolve("support", tenant_id=None, label="latest").version == 2


async def test_a_label_moves_and_every_move_is_kept(storage: Storage) -> None:
    registry = await PromptRegistry.open(storage.prompts)
    await registry.add_version(document(), tenant_id=None)
    await registry.add_version(document("v2 {{ product }}"), tenant_id=None)
    await registry.move_label("support", "production", 1)
    await registry.move_label("support", "production", 2)
    await registry.move_label("support", "staging", 2)
    assert registry.resolve("support", tenant_id=None).version == 2
    history = await registry.label_history("support")
    assert [(m.label, m.from_version, m.to_version) for m in history] == [
        ("production", None, 1), ("production", 1, 2), ("staging", None, 2)
    ]


async def test_a_label_cannot_point_at_a_version_that_does_not_exist(storage: Storage) -> None:
    registry = await PromptRegistry.open(storage.prompts)
    await registry.add_version(document(), tenant_id=None)
    with pytest.raises(PromptStoreError) as err:
        await registry.move_label("support", "production", 5)
    assert (err.value.status, err.value.param) == (400, "version")
    assert await registry.label_history("support") == []
    with pytest.raises(PromptStoreError) as unknown:
        await registry.move_label("nope", "production", 1)
    assert unknown.value.status == 404


async def test_a_moved_label_refuses_a_move_that_expected_the_old_version(
    storage: Storage,
) -> None:
    registry = await PromptRegistry.open(storage.prompts)
    for text in ("a {{ product }}", "b {{ product }}", "c {{ product }}"):
        await registry.add_version(document(text), tenant_id=None)
    await registry.move_label("support", "production", 1, expected=0)
    await registry.move_label("support", "production", 2, expected=1)
    with pytest.raises(PromptStoreError) as stale:
        await registry.move_label("support", "production", 3, expected=1)
    assert stale.value.status == 409
    assert registry.resolve("support", tenant_id=None).version == 2


async def test_a_prompts_owner_never_changes(storage: Storage) -> None:
    registry = await PromptRegistry.open(storage.prompts)
    await registry.add_version(document(tenant="acme"), tenant_id="ten_acme")
    with pytest.raises(PromptStoreError) as err:
        await registry.add_version(document("other {{ product }}"), tenant_id=None)
    assert (err.value.status, err.value.param) == (409, "tenant")
    await registry.move_label("support", "production", 1)
    with pytest.raises(GatewayError) as hidden:
        registry.resolve("support", tenant_id="ten_globex")
    assert hidden.value.status == 404
    assert registry.resolve("support", tenant_id="ten_acme").version == 1


async def test_another_process_sees_a_label_move_at_its_next_poll(url: str) -> None:
    async with opened(url) as one, opened(url) as two:
        writer = await PromptRegistry.open(one.prompts)
        reader = await PromptRegistry.open(two.prompts)
        await writer.add_version(document(), tenant_id=None)
        await writer.add_version(document("v2 {{ product }}"), tenant_id=None)
        await writer.move_label("support", "production", 1)
        await reader.refresh()
        assert reader.resolve("support", tenant_id=None).version == 1
        await writer.move_label("support", "production", 2)
        await reader.refresh()
        assert reader.resolve("support", tenant_id=None).version == 2


async def test_concurrent_label_moves_from_two_replicas_each_record_what_they_moved(
    url: str,
) -> None:
    async with opened(url) as one, opened(url) as two:
        a = await PromptRegistry.open(one.prompts)
        b = await PromptRegistry.open(two.prompts)
        for text in ("a {{ product }}", "b {{ product }}", "c {{ product }}"):
            await a.add_version(document(text), tenant_id=None)
        await a.move_label("support", "production", 1)
        await asyncio.gather(
            *(r.move_label("support", "production", v) for r, v in ((a, 2), (b, 3)) * 5)
        )
        history = await a.label_history("support")
        # The moves form one chain: each starts where the one before it ended.
        assert all(m.from_version == prev.to_version for prev, m in itertools.pairwise(history))
        await a.refresh()
        await b.refresh()
        assert a.resolve("support", tenant_id=None).version == history[-1].to_version
        assert b.resolve("support", tenant_id=None).version == history[-1].to_version


async def test_concurrent_versions_from_two_replicas_get_distinct_numbers(url: str) -> None:
    async with opened(url) as one, opened(url) as two:
        a = await PromptRegistry.open(one.prompts)
        b = await PromptRegistry.open(two.prompts)
        stored = await asyncio.gather(
            *(r.add_version(document(f"text {i} {{{{ product }}}}"), tenant_id=None)
              for i, r in enumerate([a, b] * 4))
        )
        assert sorted(s.version for s in stored) == list(range(1, 9))


async def test_an_index_that_could_not_be_confirmed_refuses_rather_than_serve_stale(
    storage: Storage,
) -> None:
    now = [0.0]
    registry = PromptRegistry(storage.prompts, clock=lambda: now[0])
    await registry.refresh()
    await registry.add_version(document(), tenant_id=None)
    await registry.move_label("support", "production", 1)
    now[0] += 0.9
    assert registry.resolve("support", tenant_id=None).version == 1
    now[0] += 0.2
    with pytest.raises(GatewayError) as err:
        registry.resolve("support", tenant_id=None)
    assert (err.value.status, err.value.code) == (503, "prompt_registry_unavailable")
    await registry.refresh()
    assert registry.resolve("support", tenant_id=None).version == 1


async def test_a_reload_reads_only_the_documents_of_versions_new_to_the_process(
    url: str,
) -> None:
    """Versions never change, so a label move costs the other replicas no documents."""

    class Counting:
        def __init__(self, store: PromptStore) -> None:
            self.store = store
            self.read: list[tuple[str, int]] = []

        def __getattr__(self, name: str) -> object:
            return getattr(self.store, name)

        async def documents(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
            self.read += keys
            return await self.store.documents(keys)

    async with opened(url) as one, opened(url) as two:
        writer = await PromptRegistry.open(one.prompts)
        counting = Counting(two.prompts)
        reader = await PromptRegistry.open(counting)  # type: ignore[arg-type]
        await writer.add_version(document(), tenant_id=None)
        await writer.add_version(document("v2 {{ product }}"), tenant_id=None)
        await reader.refresh()
        assert sorted(counting.read) == [("support", 1), ("support", 2)]
        await writer.move_label("support", "production", 2)
        await reader.refresh()
        assert len(counting.read) == 2
        assert reader.resolve("support", tenant_id=None).version == 2
