"""The config schema on its own, the cross-reference checks, and validate_config for plain data."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from sluicegate.config.loader import ConfigError, validate_config
from sluicegate.config.references import FieldPath, Issue, check_references, format_path
from sluicegate.config.schema import Config


def config(
    *,
    providers: list[dict[str, Any]] | None = None,
    models: list[dict[str, Any]] | None = None,
    **blocks: Any,
) -> dict[str, Any]:
    """A minimal valid config as data, with any block replaced."""
    return {
        "providers": providers or [{"name": "main", "type": "echo"}],
        "models": models or [{"name": "m", "targets": [{"provider": "main", "model": "echo"}]}],
        **blocks,
    }


def model(name: str, *fallbacks: str, provider: str = "main") -> dict[str, Any]:
    return {"name": name, "targets": [{"provider": provider, "model": "x"}], "fallbacks": fallbacks}


def test_omitted_blocks_and_fields_take_their_defaults() -> None:
    cfg = Config.model_validate(config(tenants=[{"name": "acme"}]))
    assert (cfg.server.host, cfg.server.port, cfg.server.admin_key) == ("127.0.0.1", 8080, None)
    assert cfg.server.max_body_bytes == 8 * 1024 * 1024
    assert cfg.server.drain_timeout_s == 60.0
    assert (cfg.storage.url, cfg.storage.redis_url) == ("sqlite:///./sluicegate.db", None)
    provider = cfg.providers[0]
    assert (provider.timeout_s, provider.connect_timeout_s, provider.first_token_timeout_s) == (
        600.0,
        5.0,
        60.0,
    )
    assert (provider.base_url, provider.api_key, provider.api_version, provider.headers) == (
        None,
        None,
        None,
        {},
    )
    target = cfg.models[0].targets[0]
    assert target.weight == 1.0
    assert cfg.models[0].fallbacks == []
    assert cfg.models[0].pricing is None  # unpriced, which is not the same as free
    limits = cfg.tenants[0].limits
    assert (limits.rpm, limits.tpm, limits.max_concurrency, limits.budget_usd) == (
        None,
        None,
        None,
        None,
    )
    assert limits.budget_period == "month"
    assert cfg.tenants[0].models is None
    assert cfg.tenants[0].keys == []


def test_the_model_alone_does_not_check_references() -> None:
    # The loader runs check_references so it can name a line; the model stays usable alone.
    cfg = Config.model_validate(config(models=[model("m", "ghost", provider="ghost")]))
    assert cfg.models[0].targets[0].provider == "ghost"


def test_config_is_immutable() -> None:
    cfg = Config.model_validate(config())
    with pytest.raises(ValidationError):
        cfg.server.port = 1


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("server",), "server"),
        (("providers", 0, "type"), "providers[0].type"),
        (("tenants", 1, "keys", 0, "key"), "tenants[1].keys[0].key"),
        (("providers", 0, "headers", "X-Org"), "providers[0].headers.X-Org"),
        (("providers", 0, "headers", "a.b c"), "providers[0].headers['a.b c']"),
    ],
)
def test_format_path(path: FieldPath, text: str) -> None:
    assert format_path(path) == text


REFERENCE_CASES: list[tuple[str, dict[str, Any], list[Issue]]] = [
    ("a valid config", config(models=[model("a", "b"), model("b")]), []),
    (
        "duplicate provider",
        config(providers=[{"name": "main", "type": "echo"}, {"name": "main", "type": "echo"}]),
        [(("providers", 1, "name"), "duplicate name 'main' (already used by providers[0])")],
    ),
    (
        "duplicate alias",
        config(models=[model("a"), model("b"), model("a")]),
        [(("models", 2, "name"), "duplicate name 'a' (already used by models[0])")],
    ),
    (
        "duplicate tenant",
        config(tenants=[{"name": "t"}, {"name": "t"}]),
        [(("tenants", 1, "name"), "duplicate name 't' (already used by tenants[0])")],
    ),
    (
        "unknown provider",
        config(models=[model("a", provider="nope")]),
        [(("models", 0, "targets", 0, "provider"), "unknown provider 'nope' (known: main)")],
    ),
    (
        "unknown fallback",
        config(models=[model("a", "b")]),
        [(("models", 0, "fallbacks", 0), "unknown fallback alias 'b' (known: a)")],
    ),
    (
        "self fallback is reported once, not also as a cycle",
        config(models=[model("a", "a")]),
        [(("models", 0, "fallbacks", 0), "an alias cannot fall back to itself")],
    ),
    (
        "a three-alias cycle",
        config(models=[model("a", "b"), model("b", "c"), model("c", "a")]),
        [(("models", 2, "fallbacks", 0), "fallbacks form a cycle: a -> b -> c -> a")],
    ),
    (
        "a cycle reached from outside it",
        config(models=[model("entry", "a"), model("a", "b"), model("b", "a")]),
        [(("models", 2, "fallbacks", 0), "fallbacks form a cycle: a -> b -> a")],
    ),
    (
        "a diamond is not a cycle",
        config(models=[model("a", "b", "c"), model("b", "c"), model("c")]),
        [],
    ),
    (
        "tenant names an unknown alias",
        config(tenants=[{"name": "t", "models": ["m", "x"]}]),
        [(("tenants", 0, "models", 1), "unknown model alias 'x' (known: m)")],
    ),
    (
        "duplicate key names within a tenant, but not across tenants",
        config(
            tenants=[
                {"name": "t", "keys": [{"name": "k", "key": "key-00001"}]},
                {
                    "name": "u",
                    "keys": [
                        {"name": "k", "key": "key-00002"},
                        {"name": "k", "key": "key-00003"},
                    ],
                },
            ]
        ),
        [
            (
                ("tenants", 1, "keys", 1, "name"),
                "duplicate name 'k' (already used by tenants[1].keys[0])",
            )
        ],
    ),
    (
        "one key value in two tenants",
        config(
            tenants=[
                {"name": "t", "keys": [{"name": "a", "key": "key-00001"}]},
                {"name": "u", "keys": [{"name": "b", "key": "key-00001"}]},
            ]
        ),
        [
            (
                ("tenants", 1, "keys", 0, "key"),
                "this key is already used by tenants[0].keys[0].key"
                " (a key must identify one tenant)",
            )
        ],
    ),
    (
        "a tenant key equal to the admin key",
        config(
            server={"admin_key": "key-00001"},
            tenants=[{"name": "t", "keys": [{"name": "a", "key": "key-00001"}]}],
        ),
        [
            (
                ("tenants", 0, "keys", 0, "key"),
                "this key is also server.admin_key (a tenant key must not be it)",
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"),
    [pytest.param(data, expected, id=name) for name, data, expected in REFERENCE_CASES],
)
def test_check_references(data: dict[str, Any], expected: list[Issue]) -> None:
    assert check_references(Config.model_validate(data)) == expected


def test_validate_config_accepts_the_embedded_defaults_shape() -> None:
    cfg = validate_config(
        {
            "providers": [{"name": "echo", "type": "echo"}],
            "models": [model("echo", provider="echo")],
        }
    )
    assert cfg.providers[0].type == "echo"


def test_validate_config_names_fields_without_a_file() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(config(server={"port": "abc", "hostname": "x"}))
    assert str(caught.value).splitlines() == [
        "server.port: expected a whole number, got 'abc'",
        "server.hostname: unknown field (did you mean 'host'?)",
    ]
    assert all(p.line is None and p.source is None for p in caught.value.problems)


def test_validate_config_runs_the_reference_checks() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(config(models=[model("a", "a")]))
    assert str(caught.value) == "models[0].fallbacks[0]: an alias cannot fall back to itself"


def test_validate_config_reports_a_key_that_is_not_a_string() -> None:
    data = config(providers=[{"name": "main", "type": "echo", "headers": {1: "x"}}])
    with pytest.raises(ConfigError) as caught:
        validate_config(data)
    assert str(caught.value) == "providers[0].headers[1]: a key here must be a string, got 1"


def test_storage_urls_are_sqlite_or_postgresql() -> None:
    from sluicegate.config.loader import ConfigError, load_config_text

    text = (
        "storage:\n  url: {url}\nproviders:\n  - {{name: e, type: echo}}\n"
        "models:\n  - name: m\n    targets: [{{provider: e, model: x}}]\n"
    )
    config = load_config_text(text.format(url="postgresql://u@h/db"), source="gw.yaml")
    assert config.storage.url == "postgresql://u@h/db"
    with pytest.raises(ConfigError) as info:
        load_config_text(text.format(url="mysql://u@h/db"), source="gw.yaml")
    assert str(info.value).startswith("gw.yaml:2: storage.url: ")
    assert "postgresql://" in str(info.value)


@pytest.mark.parametrize(
    "field", ["context_window_fallback", "content_policy_fallback", "degraded"]
)
def test_stand_in_aliases_must_exist(field: str) -> None:
    from sluicegate.config.loader import ConfigError, load_config_text

    text = (
        "providers:\n  - {name: e, type: echo}\nmodels:\n  - name: m\n"
        f"    targets: [{{provider: e, model: x}}]\n    {field}: nope\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config_text(text, source="gw.yaml")
    assert str(info.value).startswith(f"gw.yaml:6: models[0].{field}: unknown model alias 'nope'")
