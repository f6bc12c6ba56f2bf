"""Warnings for budgets that aliases without pricing can spend unseen."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from sluicegate.config.loader import (
    config_warnings,
    load_config_text,
    load_config_with_warnings,
    validate_config,
)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def warnings(text: str) -> list[str]:
    """The warnings of ``text`` loaded as ./gateway.yaml."""
    Path("gateway.yaml").write_text(dedent(text))
    _, found = load_config_with_warnings("gateway.yaml", environ={})
    return [str(w) for w in found]


PROVIDERS = """\
providers: [{name: up, type: echo}]
models:
  - name: smart
    targets: [{provider: up, model: big}]
    pricing: {input_per_mtok: 2.5, output_per_mtok: 10}
    fallbacks: [local]
  - name: local
    targets: [{provider: up, model: small}]
  - name: free
    targets: [{provider: up, model: tiny}]
    pricing: {input_per_mtok: 0, output_per_mtok: 0}
"""


def test_a_tenant_budget_names_the_unpriced_aliases_it_cannot_see() -> None:
    text = PROVIDERS + dedent("""\
        tenants:
          - name: acme
            limits:
              budget_usd: 100
        """)
    assert warnings(text) == [
        "gateway.yaml:15: tenants[0].limits.budget_usd: warning: this budget never counts"
        " requests served by alias 'local' (models[1]): with no pricing they cost $0."
        " Give each pricing (zero prices if it is really free)"
    ]


def test_an_alias_reached_only_as_a_fallback_counts_too() -> None:
    text = PROVIDERS + dedent("""\
        tenants:
          - name: acme
            models: [smart]
            limits: {budget_usd: 100}
        """)
    [warning] = warnings(text)
    assert "tenants[0].limits.budget_usd" in warning and "'local'" in warning


def test_key_and_per_alias_budgets_are_checked_and_zero_prices_are_not_unpriced() -> None:
    text = PROVIDERS + dedent("""\
        tenants:
          - name: acme
            models: [free, smart]
            limits:
              keys:
                ci: {budget_usd: 5}
              models:
                free: {budget_usd: 1}
                smart: {budget_usd: 2}
                local: {rpm: 10}
        """)
    found = warnings(text)
    assert [w.split(": warning:")[0] for w in found] == [
        "gateway.yaml:17: tenants[0].limits.keys.ci.budget_usd",
        "gateway.yaml:20: tenants[0].limits.models.smart.budget_usd",
    ]


def test_no_budget_or_only_priced_aliases_warn_nothing() -> None:
    text = PROVIDERS + dedent("""\
        tenants:
          - name: unlimited
          - name: priced
            models: [free]
            limits: {budget_usd: 10, rpm: 5}
        """)
    assert warnings(text) == []
    config = load_config_text(dedent(text), environ={})
    assert config.models[1].pricing is None and config.models[2].pricing is not None


def test_a_warning_does_not_stop_the_config_from_loading(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(PROVIDERS + "tenants: [{name: acme, limits: {budget_usd: 1}}]\n")
    config, found = load_config_with_warnings(path, environ={})
    assert config.tenants[0].limits.budget_usd == 1
    assert [(w.severity, w.line, w.field) for w in found] == [
        ("warning", 12, "tenants[0].limits.budget_usd")
    ]
    assert str(found[0]).startswith(f"{path}:12: tenants[0].limits.budget_usd: warning: ")


def test_a_config_given_as_data_is_warned_about_without_lines() -> None:
    config = validate_config({
        "providers": [{"name": "up", "type": "echo"}],
        "models": [{"name": "m", "targets": [{"provider": "up", "model": "x"}]}],
        "tenants": [{"name": "acme", "limits": {"budget_usd": 3}}],
    })
    [warning] = config_warnings(config)
    assert str(warning).startswith("tenants[0].limits.budget_usd: warning: this budget never")
