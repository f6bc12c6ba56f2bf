"""``sluicegate model-card ALIAS`` and ``sluicegate alerts``, through the admin API."""

from __future__ import annotations

import argparse
import datetime as dt
from urllib.parse import quote

from sluicegate.cli.admin_api import admin_call, print_json, show

__all__ = ["run_alerts", "run_model_card"]


def run_model_card(args: argparse.Namespace) -> int:
    path = f"/admin/models/{quote(args.alias, safe='')}/card"
    query = {"since": args.since, "until": args.until}
    if args.format == "markdown" and not args.json:
        print(admin_call(args, "GET", path, query={**query, "format": "markdown"}, text=True),
              end="")
        return 0
    print_json(admin_call(args, "GET", path, query=query))
    return 0


def run_alerts(args: argparse.Namespace) -> int:
    answer = admin_call(
        args, "GET", "/admin/alerts",
        query={"type": args.type, "since": args.since, "limit": str(args.limit)},
    )
    rows = [
        {**alert, "at": dt.datetime.fromtimestamp(alert["at"], dt.UTC).isoformat(
            timespec="seconds")}
        for alert in answer["data"]
    ]
    return show(args, answer, rows, ["at", "type", "message"])
