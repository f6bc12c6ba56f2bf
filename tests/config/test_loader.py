"""Loading the YAML config: values, env: substitution, and errors that name file, line and field."""

from __future__ import annotations

import pickle
from pathlib import Path
from textwrap import dedent

import pytest

from sluicegate.config.loader import ConfigError, Problem, load_config, load_config_text

FILES = Path(__file__).parent / "files"
FULL = FILES / "full.yaml"
FULL_ENV = {
    "SLUICEGATE_ADMIN_KEY": "admin-secret-0001",
    "OPENAI_API_KEY": "sk-openai-test",
    "ACME_KEY": "sk-acme-ci-0001",
}


def errors(text: str, environ: dict[str, str] | None = None) -> list[str]:
    """The lines of the ConfigError that loading ``text`` as gateway.yaml raises."""
    with pytest.raises(ConfigError) as caught:
        load_config_text(dedent(text), source="gateway.yaml", environ=environ or {})
    return str(caught.value).splitlines()


# --- the full example ---------------------------------------------------------------------


def test_the_contract_example_loads_with_its_values() -> None:
    config = load_config(FULL, environ=FULL_ENV)

    assert config.server.host == "127.0.0.1"
    assert config.server.port == 8080
    assert config.server.admin_key == "admin-secret-0001"
    assert config.storage.url == "sqlite:///./sluicegate.db"
    assert config.storage.redis_url is None

    [main] = config.providers
    assert main.name == "main"
    assert main.type == "openai"
    assert main.base_url == "https://api.openai.com/v1"
    assert main.api_key == "sk-openai-test"
    assert (main.timeout_s, main.connect_timeout_s, main.first_token_timeout_s) == (600, 5, 60)

    smart, cheap = config.models
    assert smart.name == "smart"
    assert [(t.provider, t.model, t.weight) for t in smart.targets] == [("main", "gpt-4o", 1.0)]
    assert smart.fallbacks == ["cheap"]
    assert (smart.pricing.input_per_mtok, smart.pricing.output_per_mtok) == (2.5, 10.0)
    assert cheap.name == "cheap"
    assert cheap.fallbacks == []

    [acme] = config.tenants
    assert acme.name == "acme"
    limits = acme.limits
    assert (limits.rpm, limits.tpm, limits.max_concurrency) == (600, 200000, 50)
    assert (limits.budget_usd, limits.budget_period) == (100.0, "month")
    assert acme.models == ["smart", "cheap"]
    assert [(k.name, k.key) for k in acme.keys] == [("ci", "sk-acme-ci-0001")]


def test_env_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FULL_ENV.items():
        monkeypatch.setenv(name, value)
    assert load_config(str(FULL)).tenants[0].keys[0].key == "sk-acme-ci-0001"


def test_a_missing_variable_names_it_with_file_line_and_field() -> None:
    environ = {k: v for k, v in FULL_ENV.items() if k != "ACME_KEY"}
    with pytest.raises(ConfigError) as caught:
        load_config(FULL, environ=environ)
    assert str(caught.value) == (
        f"{FULL}:37: tenants[0].keys[0].key: environment variable ACME_KEY is not set"
    )


# --- env: substitution --------------------------------------------------------------------


def test_env_is_substituted_in_lists_nested_blocks_and_non_string_fields() -> None:
    text = dedent("""\
        server:
          port: env:PORT
          drain_timeout_s: env:DRAIN
        providers:
          - name: env:PROVIDER
            type: env:TYPE
            headers: {OpenAI-Organization: env:ORG}
        models:
          - name: smart
            targets:
              - {provider: env:PROVIDER, model: env:MODEL, weight: env:WEIGHT}
            fallbacks: [env:FALLBACK]
          - name: cheap
            targets: [{provider: up, model: small}]
        tenants:
          - name: acme
            models: [smart, env:FALLBACK]
            limits: {rpm: env:RPM, budget_usd: env:BUDGET}
            keys:
              - {name: ci, key: env:ACME_KEY}
        """)
    environ = {
        "PORT": "9090",
        "DRAIN": "2.5",
        "PROVIDER": "up",
        "TYPE": "anthropic",
        "ORG": "org-42",
        "MODEL": "claude-sonnet-4-5",
        "WEIGHT": "3",
        "FALLBACK": "cheap",
        "RPM": "120",
        "BUDGET": "9.75",
        "ACME_KEY": "sk-acme-0001",
    }
    config = load_config_text(text, environ=environ)

    assert config.server.port == 9090
    assert config.server.drain_timeout_s == 2.5
    assert config.providers[0].name == "up"
    assert config.providers[0].type == "anthropic"
    assert config.providers[0].headers == {"OpenAI-Organization": "org-42"}
    target = config.models[0].targets[0]
    assert (target.provider, target.model, target.weight) == ("up", "claude-sonnet-4-5", 3.0)
    assert config.models[0].fallbacks == ["cheap"]
    assert config.tenants[0].models == ["smart", "cheap"]
    assert config.tenants[0].limits.rpm == 120
    assert config.tenants[0].limits.budget_usd == 9.75
    assert config.tenants[0].keys[0].key == "sk-acme-0001"


def test_a_substituted_value_is_still_validated() -> None:
    text = """\
        server:
          port: env:PORT
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: echo}]}]
        """
    assert errors(text, {"PORT": "eighty"}) == [
        "gateway.yaml:2: server.port: expected a whole number, got 'eighty'"
    ]


def test_env_without_a_name_is_an_error() -> None:
    text = """\
        providers: [{name: main, type: echo, api_key: "env:"}]
        models: [{name: m, targets: [{provider: main, model: echo}]}]
        """
    assert errors(text) == [
        "gateway.yaml:1: providers[0].api_key: env: needs a variable name (env:NAME)"
    ]


def test_a_missing_variable_is_reported_once_even_where_the_schema_would_object() -> None:
    # `env:PORT` left in place is not an int, and the two unset keys look
    # equal; neither may add noise to the one real problem per value.
    text = """\
        server: {port: env:PORT}
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: echo}]}]
        tenants:
          - name: a
            keys: [{name: one, key: env:KEY_A}]
          - name: b
            keys: [{name: two, key: env:KEY_B}]
        """
    assert errors(text) == [
        "gateway.yaml:1: server.port: environment variable PORT is not set",
        "gateway.yaml:6: tenants[0].keys[0].key: environment variable KEY_A is not set",
        "gateway.yaml:8: tenants[1].keys[0].key: environment variable KEY_B is not set",
    ]


# --- one kind of error each ---------------------------------------------------------------

# Each case is a whole file; the expected lines are exact.
ERROR_CASES: list[tuple[str, str, list[str]]] = [
    (
        "unknown choice",
        """\
        providers:
          - name: main
            type: opneai
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        [
            "gateway.yaml:3: providers[0].type: must be one of openai, anthropic, gemini,"
            " azure, echo (got 'opneai')"
        ],
    ),
    (
        "unknown field with a close match",
        """\
        providers:
          - name: main
            type: echo
            timeout: 5
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        ["gateway.yaml:4: providers[0].timeout: unknown field (did you mean 'timeout_s'?)"],
    ),
    (
        "unknown field without a close match",
        """\
        server:
          colour: blue
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        [
            "gateway.yaml:2: server.colour: unknown field (expected one of host, port,"
            " admin_key, max_body_bytes, drain_timeout_s, header_timeout_s, body_timeout_s,"
            " keepalive_timeout_s, write_timeout_s, metrics_token, metrics_port)"
        ],
    ),
    (
        "not a number",
        """\
        providers:
          - name: main
            type: echo
            timeout_s: abc
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        ["gateway.yaml:4: providers[0].timeout_s: expected a number, got 'abc'"],
    ),
    (
        "not a whole number",
        """\
        server:
          port: 80.5
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        ["gateway.yaml:2: server.port: expected a whole number, got 80.5"],
    ),
    (
        "above the maximum",
        """\
        server:
          port: 70000
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        ["gateway.yaml:2: server.port: must be at most 65535 (got 70000)"],
    ),
    (
        "not above zero",
        """\
        providers: [{name: main, type: echo}]
        models:
          - name: m
            targets:
              - provider: main
                model: x
                weight: 0
        """,
        ["gateway.yaml:7: models[0].targets[0].weight: must be greater than 0 (got 0)"],
    ),
    (
        "below zero",
        """\
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        tenants:
          - name: acme
            limits:
              rpm: -1
        """,
        ["gateway.yaml:6: tenants[0].limits.rpm: must be at least 0 (got -1)"],
    ),
    (
        "unknown budget period",
        """\
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        tenants:
          - name: acme
            limits: {budget_period: year}
        """,
        [
            "gateway.yaml:5: tenants[0].limits.budget_period: must be one of day, week, month,"
            " total (got 'year')"
        ],
    ),
    (
        "missing field: the line of the enclosing mapping",
        """\
        providers:
          - name: main
            base_url: http://localhost:1234/v1
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        ["gateway.yaml:2: providers[0].type: required field is missing"],
    ),
    (
        "missing block: the line where the top level starts",
        """\
        # comments before the first key

        providers: [{name: main, type: echo}]
        """,
        ["gateway.yaml:3: models: required field is missing"],
    ),
    (
        "empty list",
        """\
        providers: [{name: main, type: echo}]
        models:
          - name: m
            targets: []
        """,
        ["gateway.yaml:4: models[0].targets: must not be empty"],
    ),
    (
        "empty name",
        """\
        providers:
          - name: ""
            type: echo
        models: [{name: m, targets: [{provider: "", model: x}]}]
        """,
        ["gateway.yaml:2: providers[0].name: must not be empty"],
    ),
    (
        "key too short, and its value not echoed",
        """\
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        tenants:
          - name: acme
            keys:
              - name: ci
                key: short
        """,
        ["gateway.yaml:7: tenants[0].keys[0].key: must be at least 8 characters long"],
    ),
    (
        "a scalar where a list belongs",
        """\
        providers: [{name: main, type: echo}]
        models:
          - name: m
            targets: [{provider: main, model: x}]
            fallbacks: cheap
        """,
        ["gateway.yaml:5: models[0].fallbacks: expected a list, got 'cheap'"],
    ),
    (
        "a scalar where a mapping belongs",
        """\
        server: 8080
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        ["gateway.yaml:1: server: expected a mapping, got 8080"],
    ),
    (
        "a number where a string belongs",
        """\
        providers: [{name: main, type: echo}]
        models:
          - name: m
            targets:
              - provider: main
                model: 4
        """,
        [
            "gateway.yaml:6: models[0].targets[0].model: expected a string, got 4"
            " (quote it to make it a string)"
        ],
    ),
    (
        "a secret of the wrong type is not echoed",
        """\
        providers:
          - name: main
            type: openai
            api_key: 123456789
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        ["gateway.yaml:4: providers[0].api_key: expected a string (quote it to make it a string)"],
    ),
    (
        "a rule over several fields: the line of the mapping",
        """\
        providers:
          - name: main
            type: echo
          - name: az
            type: azure
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        [
            "gateway.yaml:4: providers[1]: an azure provider needs base_url"
            " (https://RESOURCE.openai.azure.com)"
        ],
    ),
    (
        "duplicate key",
        """\
        server:
          port: 8080
          host: 0.0.0.0
          port: 9090
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        ["gateway.yaml:4: server.port: duplicate key (first given on line 2)"],
    ),
    (
        "duplicate key in a flow mapping inside a list",
        """\
        providers: [{name: main, type: echo}]
        models:
          - name: m
            targets:
              - {provider: main, model: x, model: y}
        """,
        ["gateway.yaml:5: models[0].targets[0].model: duplicate key (first given on line 5)"],
    ),
    (
        "yaml syntax",
        """\
        providers:
          - name: main
            type echo
            timeout_s: 5
        """,
        [
            "gateway.yaml:4: invalid YAML: could not find expected ':'"
            " (while scanning a simple key on line 3)"
        ],
    ),
    (
        "tab indentation",
        "providers:\n\t- name: main\n",
        [
            "gateway.yaml:2: invalid YAML: found character '\\t' that cannot start any token"
            " (indent with spaces, not tabs)"
        ],
    ),
    (
        "two documents",
        """\
        providers: []
        ---
        models: []
        """,
        [
            "gateway.yaml:2: invalid YAML: expected a single document in the stream,"
            " but found another document"
        ],
    ),
    (
        "empty file",
        "",
        ["gateway.yaml:1: the file is empty (a config needs at least providers and models)"],
    ),
    (
        "comments only",
        "# nothing here yet\n",
        ["gateway.yaml:1: the file is empty (a config needs at least providers and models)"],
    ),
    (
        "top level is a list",
        """\
        - providers: []
        """,
        [
            "gateway.yaml:1: the top level must be a mapping of blocks (server, storage,"
            " providers, models, tenants), got a list"
        ],
    ),
    (
        "top level is a scalar",
        "sluicegate\n",
        [
            "gateway.yaml:1: the top level must be a mapping of blocks (server, storage,"
            " providers, models, tenants), got the value 'sluicegate'"
        ],
    ),
    (
        "unsupported tag",
        """\
        providers: !providers [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """,
        ["gateway.yaml:1: providers: unsupported YAML tag !providers"],
    ),
    (
        "a key that is not a string",
        """\
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        ? [a, b]
        : c
        """,
        ["gateway.yaml:3: a key must be a plain string"],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [pytest.param(text, expected, id=name) for name, text, expected in ERROR_CASES],
)
def test_each_kind_of_error_names_file_line_and_field(text: str, expected: list[str]) -> None:
    assert errors(text) == expected


# --- cross-references: the line of the offending value ------------------------------------

REFERENCE_CASES: list[tuple[str, str, list[str]]] = [
    (
        "unknown provider",
        """\
        providers: [{name: main, type: echo}]
        models:
          - name: m
            targets:
              - model: x
                provider: mian
        """,
        ["gateway.yaml:6: models[0].targets[0].provider: unknown provider 'mian' (known: main)"],
    ),
    (
        "unknown fallback and self fallback",
        """\
        providers: [{name: main, type: echo}]
        models:
          - name: m
            targets: [{provider: main, model: x}]
            fallbacks:
              - m
              - other
        """,
        [
            "gateway.yaml:6: models[0].fallbacks[0]: an alias cannot fall back to itself",
            "gateway.yaml:7: models[0].fallbacks[1]: unknown fallback alias 'other' (known: m)",
        ],
    ),
    (
        "fallback cycle",
        """\
        providers: [{name: main, type: echo}]
        models:
          - {name: a, targets: [{provider: main, model: x}], fallbacks: [b]}
          - {name: b, targets: [{provider: main, model: x}], fallbacks: [a]}
        """,
        ["gateway.yaml:4: models[1].fallbacks[0]: fallbacks form a cycle: a -> b -> a"],
    ),
    (
        "duplicate names",
        """\
        providers:
          - {name: main, type: echo}
          - {name: main, type: openai}
        models:
          - {name: m, targets: [{provider: main, model: x}]}
        tenants:
          - {name: acme}
          - {name: acme}
        """,
        [
            "gateway.yaml:3: providers[1].name: duplicate name 'main'"
            " (already used by providers[0])",
            "gateway.yaml:8: tenants[1].name: duplicate name 'acme' (already used by tenants[0])",
        ],
    ),
    (
        "tenant allows an unknown alias",
        """\
        providers: [{name: main, type: echo}]
        models: [{name: smart, targets: [{provider: main, model: x}]}]
        tenants:
          - name: acme
            models:
              - smart
              - cheap
        """,
        ["gateway.yaml:7: tenants[0].models[1]: unknown model alias 'cheap' (known: smart)"],
    ),
    (
        "duplicate key names in a tenant",
        """\
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        tenants:
          - name: acme
            keys:
              - {name: ci, key: sk-acme-0001}
              - {name: ci, key: sk-acme-0002}
        """,
        [
            "gateway.yaml:7: tenants[0].keys[1].name: duplicate name 'ci'"
            " (already used by tenants[0].keys[0])"
        ],
    ),
    (
        "one key for two tenants, after env substitution",
        """\
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        tenants:
          - name: acme
            keys: [{name: ci, key: env:ACME_KEY}]
          - name: umbrella
            keys:
              - name: ci
                key: env:UMBRELLA_KEY
        """,
        [
            "gateway.yaml:9: tenants[1].keys[0].key: this key is already used by"
            " tenants[0].keys[0].key (a key must identify one tenant)"
        ],
    ),
    (
        "a tenant key that is the admin key",
        """\
        server: {admin_key: env:ADMIN_KEY}
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        tenants:
          - name: acme
            keys: [{name: ci, key: env:ACME_KEY}]
        """,
        [
            "gateway.yaml:6: tenants[0].keys[0].key: this key is also server.admin_key"
            " (a tenant key must not be it)"
        ],
    ),
    (
        "semantic embeddings from an unknown alias, without dimensions",
        """\
        providers: [{name: main, type: echo}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        cache: {embeddings: embedder}
        """,
        [
            "gateway.yaml:3: cache.embeddings: 'local' or a model alias (known: m)",
            "gateway.yaml:3: cache.embeddings_dimensions: needed when embeddings is an alias",
        ],
    ),
    (
        "a limit on an unknown alias, and two capacities for one deployment",
        """\
        providers: [{name: main, type: echo}]
        models:
          - {name: m, targets: [{provider: main, model: x, max_concurrency: 2}]}
          - {name: n, targets: [{provider: main, model: x, max_concurrency: 3}]}
        tenants:
          - name: acme
            limits: {models: {nope: {rpm: 1}}}
        """,
        [
            "gateway.yaml:4: models[1].targets[0]: deployment main/x has a different capacity"
            " at models[0].targets[0] (max_concurrency, rpm, tpm must agree)",
            "gateway.yaml:7: tenants[0].limits.models.nope: unknown model alias 'nope'"
            " (known: m, n)",
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [pytest.param(text, expected, id=name) for name, text, expected in REFERENCE_CASES],
)
def test_reference_errors_point_at_the_offending_value(text: str, expected: list[str]) -> None:
    same = "sk-same-secret-01"
    environ = {"ACME_KEY": same, "UMBRELLA_KEY": same, "ADMIN_KEY": same}
    assert errors(text, environ) == expected


def test_the_contract_example_without_cheap_names_both_references_to_it() -> None:
    text = FULL.read_text()
    start = text.index("  # Not in CONTRACT.md")
    end = text.index("tenants:")
    lines = errors(text[:start] + text[end:], FULL_ENV)
    assert lines == [
        "gateway.yaml:24: models[0].fallbacks[0]: unknown fallback alias 'cheap' (known: smart)",
        "gateway.yaml:30: tenants[0].models[1]: unknown model alias 'cheap' (known: smart)",
    ]


# --- all at once --------------------------------------------------------------------------


def test_every_problem_is_reported_at_once_sorted_by_line() -> None:
    text = """\
        server:
          prot: 8080
          port: 8080
          port: 8081
        provider: []
        providers:
          - name: main
            type: opneai
            api_key: env:OPENAI_API_KEY
            timeout_s: soon
        models:
          - name: m
            targets:
              - {provider: main, model: x, weight: -2}
        """
    assert errors(text) == [
        "gateway.yaml:2: server.prot: unknown field (did you mean 'port'?)",
        "gateway.yaml:4: server.port: duplicate key (first given on line 3)",
        "gateway.yaml:5: provider: unknown field (did you mean 'providers'?)",
        "gateway.yaml:8: providers[0].type: must be one of openai, anthropic, gemini, azure,"
        " echo (got 'opneai')",
        "gateway.yaml:9: providers[0].api_key: environment variable OPENAI_API_KEY is not set",
        "gateway.yaml:10: providers[0].timeout_s: expected a number, got 'soon'",
        "gateway.yaml:14: models[0].targets[0].weight: must be greater than 0 (got -2)",
    ]


def test_the_error_carries_structured_problems() -> None:
    text = """\
        providers:
          - {name: main, type: opneai}
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """
    with pytest.raises(ConfigError) as caught:
        load_config_text(dedent(text), source="gateway.yaml", environ={})
    [problem] = caught.value.problems
    assert problem == Problem(
        path=("providers", 0, "type"),
        message="must be one of openai, anthropic, gemini, azure, echo (got 'opneai')",
        line=2,
        source="gateway.yaml",
    )
    assert problem.field == "providers[0].type"
    assert pickle.loads(pickle.dumps(caught.value)).problems == [problem]


# --- YAML features that must keep working -------------------------------------------------


def test_anchors_and_merge_keys_fill_in_what_a_mapping_lacks() -> None:
    text = dedent("""\
        providers:
          - &openai {name: main, type: openai, timeout_s: 30, api_key: env:KEY}
          - <<: *openai
            name: backup
            timeout_s: 90
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """)
    main, backup = load_config_text(text, environ={"KEY": "sk-1"}).providers
    assert (backup.name, backup.type, backup.timeout_s, backup.api_key) == (
        "backup",
        "openai",
        90.0,
        "sk-1",
    )
    assert main.timeout_s == 30.0


def test_an_error_in_a_merged_value_points_into_the_anchor() -> None:
    text = """\
        providers:
          - &base {name: main, type: opneai}
          - <<: *base
            name: backup
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """
    assert errors(text) == [
        "gateway.yaml:2: providers[0].type: must be one of openai, anthropic, gemini, azure,"
        " echo (got 'opneai')",
        "gateway.yaml:2: providers[1].type: must be one of openai, anthropic, gemini, azure,"
        " echo (got 'opneai')",
    ]


def test_dates_stay_strings() -> None:
    # YAML 1.1 would read an unquoted 2024-10-21 as a date; an api_version is text.
    text = dedent("""\
        providers:
          - {name: az, type: azure, base_url: "https://x.openai.azure.com", api_version: 2024-10-21}
        models: [{name: m, targets: [{provider: az, model: gpt-4o}]}]
        """)
    assert load_config_text(text).providers[0].api_version == "2024-10-21"


def test_keys_are_names_as_written() -> None:
    # YAML 1.1 turns a key `on` into True; a header of that name must stay "on".
    text = dedent("""\
        providers:
          - {name: main, type: echo, headers: {on: "1", 404: "x"}}
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """)
    assert load_config_text(text).providers[0].headers == {"on": "1", "404": "x"}


def test_a_header_value_with_a_line_break_is_an_error() -> None:
    text = dedent("""\
        providers:
          - {name: main, type: echo, headers: {X-Org: "a\\r\\nHost: evil"}}
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """)
    (problem,) = errors(text)
    assert problem.startswith("gateway.yaml:2: providers[0].headers")
    assert "line break" in problem


def test_a_ca_file_that_cannot_be_loaded_is_an_error_naming_it() -> None:
    text = dedent("""\
        providers:
          - {name: inside, type: openai, base_url: "https://llm.internal/v1",
             ca_file: /nonexistent/private-ca.pem}
        models: [{name: m, targets: [{provider: inside, model: x}]}]
        """)
    (problem,) = errors(text)
    assert problem.startswith("gateway.yaml:3: providers[0].ca_file")
    assert "/nonexistent/private-ca.pem" in problem


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        ("127.0.0.1:8000/v1",
         "must start with http:// or https://, write http://127.0.0.1:8000/v1"
         " (or https://127.0.0.1:8000/v1 for TLS)"),
        ("localhost:8000", "must start with http:// or https://, write http://localhost:8000"
         " (or https://localhost:8000 for TLS)"),
        ("ftp://files.internal/v1",
         "must start with http:// or https://, e.g. http://127.0.0.1:8000/v1"),
        ("http:///v1", "names no host, e.g. http://127.0.0.1:8000/v1"),
    ],
    ids=["host-port-path", "host-port", "other-scheme", "no-host"],
)
def test_a_base_url_that_no_call_could_use_says_what_to_write(base_url: str, says: str) -> None:
    text = f"""\
        providers:
          - name: local
            type: openai
            base_url: "{base_url}"
        models: [{{name: m, targets: [{{provider: local, model: x}}]}}]
        """
    assert errors(text) == [f"gateway.yaml:4: providers[0].base_url: {says}"]


def test_a_base_url_taken_from_the_environment_is_checked_too() -> None:
    text = """\
        providers: [{name: local, type: openai, base_url: env:LOCAL_URL}]
        models: [{name: m, targets: [{provider: local, model: x}]}]
        """
    (problem,) = errors(text, {"LOCAL_URL": "10.0.0.5:8000/v1"})
    assert problem.startswith("gateway.yaml:1: providers[0].base_url: must start with http://")


@pytest.mark.parametrize("field", ["api_key", "base_url"])
def test_litellm_environment_syntax_says_to_write_env(field: str) -> None:
    text = f"""\
        providers:
          - name: main
            type: openai
            {field}: os.environ/OPENAI_API_KEY
        models: [{{name: m, targets: [{{provider: main, model: x}}]}}]
        """
    assert errors(text) == [
        f"gateway.yaml:4: providers[0].{field}: os.environ/OPENAI_API_KEY is LiteLLM's syntax;"
        " write env:OPENAI_API_KEY"
    ]


def test_litellm_environment_syntax_is_caught_in_any_string() -> None:
    text = """\
        providers: [{name: main, type: echo, headers: {X-Org: os.environ/ORG}}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        tenants:
          - name: acme
            keys: [{name: ci, key: os.environ/ACME_KEY}]
        """
    assert errors(text) == [
        "gateway.yaml:1: providers[0].headers.X-Org: os.environ/ORG is LiteLLM's syntax;"
        " write env:ORG",
        "gateway.yaml:5: tenants[0].keys[0].key: os.environ/ACME_KEY is LiteLLM's syntax;"
        " write env:ACME_KEY",
    ]


def test_a_recursive_alias_is_an_error_not_a_hang() -> None:
    text = """\
        providers: &p [{name: main, type: echo, headers: {x: *p}}]
        models: [{name: m, targets: [{provider: main, model: x}]}]
        """
    assert errors(text)[0] == (
        "gateway.yaml:1: providers[0].headers.x: an alias refers to a node that contains it"
    )


# --- files --------------------------------------------------------------------------------


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value) == f"{missing}: cannot read the file: No such file or directory"


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_bytes(b"server:\n  host: caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}:2: not valid UTF-8 text (byte 19)"


def test_a_control_character_names_the_line() -> None:
    assert errors("server:\n  host: a\x07b\n") == [
        "gateway.yaml:2: invalid YAML: special characters are not allowed (U+0007)"
    ]
