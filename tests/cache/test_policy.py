"""Which requests the cache looks up and stores: alias mode, temperature and Cache-Control."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from sluicegate.cache.key import SHARED_SCOPE, tenant_scope
from sluicegate.cache.policy import CacheControl, Decision, decide, parse_cache_control
from sluicegate.canonical import ChatRequest, EmbeddingRequest, Message, TextPart
from sluicegate.config.schema import CacheConfig, ModelCacheConfig
from sluicegate.pipeline import Request
from sluicegate.state.directory import Tenant


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        (None, CacheControl()),
        ("", CacheControl()),
        ("no-cache", CacheControl(no_cache=True)),
        ("No-Store", CacheControl(no_store=True)),
        ("max-age=60", CacheControl(max_age_s=60)),
        ('max-age="30", no-store', CacheControl(no_store=True, max_age_s=30)),
        ("max-age=60, max-age=10", CacheControl(max_age_s=10)),
        ("max-age=soon, private, no-transform", CacheControl()),
        ("max-age=-1", CacheControl()),
    ],
)
def test_cache_control_directives(header: str | None, parsed: CacheControl) -> None:
    assert parse_cache_control(header) == parsed


def context(
    *,
    temperature: float | None = None,
    header: str | None = None,
    mode: str | None = None,
    default_mode: str = "auto",
    scope: str = "tenant",
    ttl_s: float | None = None,
    embeddings: bool = False,
    tenant_id: str = "ten_acme",
) -> Request:
    request: Any = (
        EmbeddingRequest(model="embed", inputs=["hello"])
        if embeddings
        else ChatRequest(model="smart", temperature=temperature,
                         messages=[Message(role="user", content=[TextPart(text="hi")])])
    )
    alias = SimpleNamespace(
        name="smart", config=SimpleNamespace(cache=ModelCacheConfig.model_validate(
            {"mode": mode, "scope": scope, "ttl_s": ttl_s})))
    runtime = SimpleNamespace(config=SimpleNamespace(
        cache=CacheConfig.model_validate({"mode": default_mode, "ttl_s": 900})))
    return Request.of(
        request, alias=cast(Any, alias), runtime=cast(Any, runtime),
        tenant=Tenant(
            id=tenant_id, name="acme", models=None, limits=cast(Any, SimpleNamespace())
        ),
        headers={} if header is None else {"Cache-Control": header},
    )


def test_auto_caches_temperature_zero_and_embeddings_but_not_sampled_answers() -> None:
    assert decide(context(temperature=0)) == Decision(
        lookup=True, store=True, max_age_s=None, ttl_s=900, scope=tenant_scope("ten_acme"))
    assert decide(context(embeddings=True)) is not None
    assert decide(context(temperature=None)) is None
    assert decide(context(temperature=0.7)) is None


def test_a_client_opts_in_with_cache_control() -> None:
    asked = decide(context(temperature=0.7, header="max-age=120"))
    assert asked is not None and (asked.lookup, asked.store, asked.max_age_s) == (True, True, 120)
    refresh = decide(context(temperature=0.7, header="no-cache"))
    assert refresh is not None and (refresh.lookup, refresh.store) == (False, True)
    assert decide(context(temperature=0.7, header="no-store")) is None, "it asks for nothing"
    keep_out = decide(context(temperature=0, header="no-store"))
    assert keep_out is not None and (keep_out.lookup, keep_out.store) == (True, False)
    assert decide(context(temperature=0, header="no-cache, no-store")) is None


def test_alias_mode_and_settings_override_the_defaults() -> None:
    assert decide(context(temperature=1.3, mode="always")) is not None
    assert decide(context(temperature=0, mode="off", header="max-age=60")) is None
    assert decide(context(temperature=0, default_mode="off")) is None
    assert decide(context(temperature=0, default_mode="off", mode="auto")) is not None
    shared = decide(context(temperature=0, scope="shared", ttl_s=30))
    assert shared is not None and (shared.scope, shared.ttl_s) == (SHARED_SCOPE, 30)


def test_a_tenants_scope_is_its_id_not_its_name() -> None:
    """A tenant created under a deleted tenant's name is another tenant: it must not
    meet the cached answers of the first."""
    deleted = decide(context(temperature=0, tenant_id="ten_deleted"))
    namesake = decide(context(temperature=0, tenant_id="ten_namesake"))
    assert deleted is not None and namesake is not None
    assert (deleted.scope, namesake.scope) == (
        tenant_scope("ten_deleted"), tenant_scope("ten_namesake"))
    assert deleted.scope != namesake.scope
