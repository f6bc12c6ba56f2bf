"""The ledger commands: ``usage`` (totals, optionally grouped, as a table, CSV
or JSON) and ``forecast`` (each tenant's month-end spend against its budget).

CSV comes from the gateway itself for usage, so the command and
GET /admin/usage?format=csv give the same file.
"""

from __future__ import annotations

import argparse
from typing import Any

from sluicegate.cli.admin_api import admin_call, print_json

__all__ = ["FORECAST_COLUMNS", "run_forecast", "run_usage"]


def run_usage(args: argparse.Namespace) -> int:
    query: dict[str, str | None] = {
        "tenant": args.tenant,
        "key": args.key,
        "since": args.since,
        "until": args.until,
        "group_by": args.group_by,
    }
    fmt = "json" if args.json else args.format
    if fmt == "csv":
        csv_text = admin_call(
            args, "GET", "/admin/usage", query={**query, "format": "csv"}, text=True
        )
        print(csv_text, end="")
        return 0
    answer = admin_call(args, "GET", "/admin/usage", query=query)
    forecast = None
    if args.forecast:
        forecast = admin_call(args, "GET", "/admin/usage/forecast", query={"tenant": args.tenant})
    if fmt == "json":
        shown = {**answer, "forecast": forecast["data"]} if forecast else answer
        print_json(shown)
        return 0
    from sluicegate.admin.client import table

    columns = [
        "requests",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "cost_usd",
        "unpriced_requests",
        "errors",
        "cache_hits",
        "saved_usd",
    ]
    if args.group_by:
        rows = [{args.group_by: g["key"], **g} for g in answer["groups"]]
        rows.append({args.group_by: "(total)", **answer["totals"]})
        print(table(rows, [args.group_by, *columns]))
    else:
        print(table([answer["totals"]], columns))
    if forecast is not None:
        print()
        print(_forecast_table(forecast["data"]))
    return 0


FORECAST_COLUMNS = [
    "tenant",
    "month",
    "spent_usd",
    "forecast_usd",
    "low_usd",
    "high_usd",
    "budget_usd",
    "over_budget",
    "method",
]


def _forecast_table(rows: list[dict[str, Any]]) -> str:
    from sluicegate.admin.client import table

    return table(rows, FORECAST_COLUMNS)


def run_forecast(args: argparse.Namespace) -> int:
    answer = admin_call(args, "GET", "/admin/usage/forecast", query={"tenant": args.tenant})
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print_json(answer)
    elif fmt == "csv":
        from sluicegate.state.ledger.export import rows_csv

        print(rows_csv(answer["data"], FORECAST_COLUMNS), end="")
    else:
        print(_forecast_table(answer["data"]))
    return 0
