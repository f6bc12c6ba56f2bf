"""Usage as CSV, filtered by key, and month-end forecasts, through the admin API."""

from __future__ import annotations

import csv
import io
import logging
import time
from typing import Any

from admin.conftest import Client, StartGateway
from admin.test_admin_api import ACME_KEY, ADMIN, call, chat, gateway_of


async def test_usage_exports_as_csv_with_the_same_figures(client: Client) -> None:
    for tags in ("a", "a,b", None):
        assert await chat(client, ACME_KEY, tags=tags) == 200
    as_json = await call(client, "GET", "/admin/usage", params={"group_by": "tag"})
    resp = await client.get("/admin/usage", params={"group_by": "tag", "format": "csv"},
                            headers=ADMIN)
    assert resp.status == 200 and resp.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["tag"] for r in rows] == ["a", "b"]
    assert [int(r["requests"]) for r in rows] == [g["requests"] for g in as_json["groups"]]
    assert float(rows[0]["cost_usd"]) == as_json["groups"][0]["cost_usd"]

    resp = await client.get("/admin/usage", params={"format": "csv"}, headers=ADMIN)
    [totals] = list(csv.DictReader(io.StringIO(await resp.text())))
    assert int(totals["requests"]) == 3


async def test_usage_of_one_key(client: Client) -> None:
    await call(client, "POST", "/admin/tenants", json={"name": "beta"}, status=201)
    assert await chat(client, ACME_KEY) == 200
    usage = await call(client, "GET", "/admin/usage", params={"key": "ci"})
    assert usage["totals"]["requests"] == 1
    usage = await call(client, "GET", "/admin/usage", params={"key": "nope"})
    assert usage["totals"]["requests"] == 0


async def test_forecast_per_tenant_against_its_monthly_budget(
    start_admin_gateway: StartGateway, config_dict: dict[str, Any]
) -> None:
    config_dict["tenants"][0]["limits"] = {"budget_usd": 0.000001, "shadow": True}
    client = await start_admin_gateway(config_dict)
    assert await chat(client, ACME_KEY) == 200
    answer = await call(client, "GET", "/admin/usage/forecast")
    [acme] = answer["data"]
    assert acme["tenant"] == "acme" and acme["budget_usd"] == 0.000001
    assert acme["spent_usd"] > 0 and acme["forecast_usd"] >= acme["spent_usd"]
    assert acme["method"] == "today" and acme["over_budget"] is True
    assert acme["low_usd"] <= acme["forecast_usd"] <= acme["high_usd"]
    await call(client, "GET", "/admin/usage/forecast", params={"tenant": "nope"}, status=404)


async def test_a_forecast_over_the_monthly_budget_is_logged_and_counted(
    start_admin_gateway: StartGateway, config_dict: dict[str, Any], caplog: Any
) -> None:
    config_dict["tenants"][0]["limits"] = {"budget_usd": 0.000001, "shadow": True}
    client = await start_admin_gateway(config_dict)
    assert await chat(client, ACME_KEY) == 200
    gateway = gateway_of(client)
    [acme] = gateway.directory.tenants()
    assert gateway.monthly_budgets() == [(acme.id, "acme", 0.000001)]
    with caplog.at_level(logging.WARNING, logger="sluicegate.alerts"):
        alerts = await gateway.forecast_alerts.check(
            gateway.ledger.ausage, gateway.monthly_budgets(), time.time()
        )
    assert [a.tenant for a in alerts] == ["acme"]
    assert "budget_forecast: tenant acme" in caplog.text
    metrics = await (await client.get("/metrics")).text()
    assert 'sluicegate_budget_forecast_alerts_total{tenant="acme"} 1.0' in metrics
