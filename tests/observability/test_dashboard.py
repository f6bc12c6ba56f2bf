"""dashboards/sluicegate.json asks only for metrics the gateway exposes on /metrics.

Every PromQL expression of the dashboard (panel targets, those of panels nested in
rows, and the templating queries) is parsed with a real PromQL parser
(promql-parser), and each metric it names must be a family of a running gateway's
/metrics after some traffic: a counter as NAME_total, a histogram as
NAME_bucket, NAME_sum or NAME_count, a gauge by its name. A renamed or removed
metric then fails here instead of as an empty panel in production.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "sluicegate.json"
KEY = "sk-dashboard-key"

# Grafana's variables, replaced by something of the same kind before parsing: a
# duration where a range is expected, a regex inside a label matcher's string.
_RANGE_VARIABLE = re.compile(r"\[\s*\$\{?__\w+\}?\s*\]")
_VARIABLE = re.compile(r"\$\{\w+(?::\w+)?\}|\$\w+|\[\[\w+\]\]")
# Grafana's Prometheus templating functions that wrap a selector or an expression.
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.*),\s*\w+\s*\)\s*$", re.S)
_LABEL_VALUES_OF_LABEL = re.compile(r"^\s*label_values\(\s*\w+\s*\)\s*$")
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.*)\)\s*$", re.S)
_METRIC_NAMES = re.compile(r"^\s*metrics\(.*\)\s*$")


def expressions(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression in a Grafana dashboard model, templating included."""
    found = [expr for panel in _panels(dashboard.get("panels", [])) for expr in _targets(panel)]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        text = query.get("query") if isinstance(query, dict) else query
        if not isinstance(text, str) or _LABEL_VALUES_OF_LABEL.match(text):
            continue
        if _METRIC_NAMES.match(text):
            continue
        if match := _LABEL_VALUES.match(text):
            text = match["selector"]
        elif match := _QUERY_RESULT.match(text):
            text = match["expr"]
        found.append(text)
    return found


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a (collapsed) row's panels


def _targets(panel: dict[str, Any]) -> Iterator[str]:
    for target in panel.get("targets", []):
        if target.get("expr"):
            yield target["expr"]


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (raises ValueError if it is not PromQL)."""
    text = _VARIABLE.sub(".*", _RANGE_VARIABLE.sub("[5m]", expr))
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            else:  # {__name__="..."}
                names.update(
                    m.value for m in node.matchers.matchers
                    if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal
                )

    promql_parser.walk(promql_parser.parse(text), visit)
    return names


def queryable(exposition: str) -> set[str]:
    """The series names PromQL can select from a /metrics answer (empty families too:
    a queue nobody waits in is still a metric the gateway has)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


# -- the extraction itself, on known expressions ----------------------------------------


def test_metric_names_skip_functions_keywords_labels_and_durations() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, alias) (rate(foo_seconds_bucket{alias=~"$alias",'
        ' status!="rate"}[$__rate_interval]))) / ignoring(le) group_left'
        ' sum without (instance) (increase(bar_total[${__range}] offset 1h))'
        ' > bool on() count({__name__="baz"}) or vector(1)'
    )
    assert metric_names(expr) == {"foo_seconds_bucket", "bar_total", "baz"}


def test_a_grafana_variable_in_a_matcher_or_a_range_still_parses() -> None:
    assert metric_names('sum(rate(x_total{tenant=~"${tenant}"}[$__interval]))') == {"x_total"}
    with pytest.raises(ValueError):
        metric_names("sum(rate(x_total[5m])")  # not PromQL: the test says so, never skips it


def test_templating_queries_are_read_through_label_values_and_query_result() -> None:
    dashboard = {
        "panels": [{"type": "row", "panels": [{"targets": [{"expr": "up"}]}]}],
        "templating": {"list": [
            {"type": "query", "query": {"query": 'label_values(a_total{t=~"$t"}, alias)'}},
            {"type": "query", "query": "query_result(topk(3, b_total))"},
            {"type": "query", "query": "label_values(tenant)"},  # no metric named
            {"type": "datasource", "query": "prometheus"},
        ]},
    }
    assert expressions(dashboard) == ["up", 'a_total{t=~"$t"}', "topk(3, b_total)"]


def test_queryable_names_follow_the_family_types() -> None:
    exposition = (
        "# HELP c_total c\n# TYPE c_total counter\nc_total 1\n"
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"
        "# HELP g g\n# TYPE g gauge\n"
    )
    assert queryable(exposition) == {"c_total", "h_bucket", "h_sum", "h_count", "g"}


# -- the dashboard against a running gateway ----------------------------------------------


async def _exposition_after_traffic(start_gateway: Any) -> str:
    gw = await start_gateway({
        "providers": [{"name": "e", "type": "echo"}],
        "models": [
            {"name": "echo", "targets": [{"provider": "e", "model": "x"}],
             "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
             "cache": {"mode": "always"}},
        ],
        "tenants": [{"name": "acme", "keys": [{"name": "ci", "key": KEY}]}],
    })
    headers = {"Authorization": f"Bearer {KEY}"}
    for stream in (False, False, True):  # a miss, a hit, a stream
        resp = await gw.post("/v1/chat/completions", headers=headers, json={
            "model": "echo", "stream": stream,
            "messages": [{"role": "user", "content": f"hello {stream}"}],
        })
        assert resp.status == 200
        await resp.read()
    resp = await gw.post("/v1/chat/completions", json={"model": "echo", "messages": []})
    assert resp.status == 401
    metrics = await gw.get("/metrics")
    return await metrics.text()


def test_the_dashboard_is_a_grafana_model_with_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"tenant", "alias"} <= variables.keys()
    panels = [p for p in _panels(dashboard["panels"]) if p["type"] != "row"]
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels)
    assert len({p["id"] for p in _panels(dashboard["panels"])}) == len(list(
        _panels(dashboard["panels"])
    )), "panel ids are unique"


async def test_every_expression_names_a_metric_the_gateway_exposes(start_gateway: Any) -> None:
    exprs = expressions(json.loads(DASHBOARD.read_text()))
    assert len(exprs) > 20
    exposed = queryable(await _exposition_after_traffic(start_gateway))
    missing = {
        name: expr for expr in exprs for name in metric_names(expr) if name not in exposed
    }
    assert missing == {}, f"the dashboard asks for metrics /metrics does not have: {missing}"
    used = {name for expr in exprs for name in metric_names(expr)}
    for family in (
        "gen_ai_server_request_duration_seconds_bucket",
        "gen_ai_server_time_to_first_token_seconds_bucket",
        "gen_ai_client_operation_duration_seconds_bucket",
        "gen_ai_client_token_usage_sum",
        "sluicegate_overhead_seconds_bucket",
        "sluicegate_cost_usd_total",
        "sluicegate_cache_lookups_total",
        "sluicegate_alerts_total",
        "sluicegate_guardrail_results_total",
    ):
        assert family in used, f"no panel shows {family}"
