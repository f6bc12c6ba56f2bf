"""Every command, its options, and the dispatch to the function that runs it.

All of the command line is declared here, in one place, so that ``--help``
and this file say the same; each command's ``run`` lives in the module of its
concern and gets the parsed arguments.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sluicegate.cli.cache import run_cache_invalidate
from sluicegate.cli.config_file import run_check
from sluicegate.cli.keys import run_key_create, run_key_revoke, run_keys
from sluicegate.cli.observability import run_alerts, run_model_card
from sluicegate.cli.prompts import run_prompt_label, run_prompt_lint, run_prompt_push, run_prompts
from sluicegate.cli.serve import run_serve
from sluicegate.cli.storage import run_migrate
from sluicegate.cli.tenants import CLEARABLE, run_tenant_create, run_tenant_limits, run_tenants
from sluicegate.cli.usage import run_forecast, run_usage

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    result: int = args.run(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sluicegate", description="A self-hosted LLM gateway.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", type=Path, help="config file (default: embedded defaults)")
    serve.add_argument("--host", help="override server.host")
    serve.add_argument("--port", type=int, help="override server.port (0 picks a free port)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(run=run_serve)

    check = sub.add_parser("check", help="validate a config file")
    check.add_argument("--config", type=Path, required=True)
    check.set_defaults(run=run_check)

    migrate = sub.add_parser(
        "migrate", help="create or upgrade the storage schema (needed for PostgreSQL)"
    )
    source = migrate.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="migrate this config's storage.url")
    source.add_argument("--url", help="migrate this database (postgresql://... or sqlite:///...)")
    migrate.set_defaults(run=run_migrate)

    _admin_commands(sub)
    return parser


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("sluicegate")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _admin_commands(sub: Any) -> None:
    """Commands that change or read a running gateway through its admin API."""

    def add(name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        p.add_argument(
            "--url",
            default=os.environ.get("SLUICEGATE_URL", "http://127.0.0.1:8080"),
            help="the gateway (default $SLUICEGATE_URL or http://127.0.0.1:8080)",
        )
        p.add_argument(
            "--admin-key",
            default=os.environ.get("SLUICEGATE_ADMIN_KEY"),
            help="default $SLUICEGATE_ADMIN_KEY",
        )
        p.add_argument("--json", action="store_true", help="print the API's JSON answer")
        p.set_defaults(run=run)
        return p

    add("tenants", "list tenants", run_tenants)
    create = add("tenant-create", "create a tenant", run_tenant_create)
    create.add_argument("name")
    create.add_argument("--models", help="comma-separated allowed aliases (default: all)")
    limits = add(
        "tenant-limits",
        "change a tenant's limits (the ones not given stay as they are; none given: show them)",
        run_tenant_limits,
    )
    limits.add_argument("name")
    limits.add_argument("--rpm", type=int)
    limits.add_argument("--tpm", type=int)
    limits.add_argument("--max-concurrency", type=int)
    limits.add_argument("--budget-usd", type=float)
    limits.add_argument("--budget-period", choices=["day", "week", "month", "total"])
    limits.add_argument("--budget-alert-at", type=float, help="share of the budget that alerts")
    limits.add_argument(
        "--shadow",
        action=argparse.BooleanOptionalAction,
        help="log refusals but enforce nothing (--no-shadow: enforce again)",
    )
    limits.add_argument("--weight", type=float, help="share of a saturated upstream (default 1)")
    limits.add_argument("--priority", choices=["interactive", "batch"])
    limits.add_argument(
        "--clear",
        action="append",
        default=[],
        metavar="LIMIT",
        type=lambda name: name.replace("-", "_"),
        choices=CLEARABLE,
        help=f"make a limit unlimited again; repeatable ({', '.join(CLEARABLE)})",
    )
    scope = limits.add_mutually_exclusive_group()
    scope.add_argument(
        "--key", metavar="NAME", help="set these limits on one key of the tenant instead"
    )
    scope.add_argument(
        "--model", metavar="ALIAS", help="set these limits on the tenant's use of one alias"
    )
    keys = add("keys", "list API keys", run_keys)
    keys.add_argument("--tenant")
    key_create = add(
        "key-create", "create an API key (its plaintext is printed once)", run_key_create
    )
    key_create.add_argument("tenant")
    key_create.add_argument("name")
    revoke = add("key-revoke", "revoke an API key", run_key_revoke)
    revoke.add_argument("id")
    usage = add("usage", "usage and cost, optionally grouped", run_usage)
    usage.add_argument("--tenant")
    usage.add_argument("--since", help="ISO 8601 date or time (UTC when no zone)")
    usage.add_argument("--until")
    usage.add_argument(
        "--group-by", choices=["tenant", "key", "alias", "target", "tag", "day", "prompt"]
    )
    usage.add_argument("--key", help="only this key name's requests")
    usage.add_argument(
        "--format", choices=["table", "csv", "json"], default="table", help="default: a table"
    )
    usage.add_argument(
        "--forecast", action="store_true", help="also print each tenant's month-end forecast"
    )
    forecast = add(
        "forecast", "month-end spend forecast per tenant, against its budget", run_forecast
    )
    forecast.add_argument("--tenant")
    forecast.add_argument("--format", choices=["table", "csv", "json"], default="table")
    flush = add(
        "cache-invalidate",
        "remove response cache entries (by tenant or shared scope, alias, tag; or --all)",
        run_cache_invalidate,
    )
    flush.add_argument("--tenant")
    flush.add_argument("--shared", action="store_true", help="the shared scope's entries")
    flush.add_argument("--alias")
    flush.add_argument("--tag")
    flush.add_argument("--all", action="store_true", help="every entry")
    prompts = add("prompts", "list prompts with their latest version and labels", run_prompts)
    prompts.add_argument("--tenant", help="only this tenant's prompts")
    push = add("prompt-push", "create a prompt version from a YAML file", run_prompt_push)
    push.add_argument("file", type=Path)
    push.add_argument("--label", help="then point this label at the version")
    push.add_argument("--force", action="store_true", help="store it despite lint errors")
    label = add("prompt-label", "point a prompt's label at a version", run_prompt_label)
    label.add_argument("name")
    label.add_argument("label")
    label.add_argument("version", type=int)
    lint = add(
        "prompt-lint",
        "lint prompt files with the gateway's linter (exit status 1 on an error)",
        run_prompt_lint,
    )
    lint.add_argument("files", type=Path, nargs="+")
    lint.add_argument("--format", choices=["text", "sarif"], default="text")
    lint.add_argument(
        "--offline",
        action="store_true",
        help="lint here, without a gateway (no locked layers or context windows known)",
    )
    card = add(
        "model-card", "an alias's model card: its window beside its baseline, and drift",
        run_model_card,
    )
    card.add_argument("alias")
    card.add_argument("--since", help="window start, ISO 8601 (default: 24 hours ago)")
    card.add_argument("--until", help="window end (default: now)")
    card.add_argument("--format", choices=["markdown", "json"], default="markdown")
    alerts = add("alerts", "alerts raised (budget, drift, model_changed, ...)", run_alerts)
    alerts.add_argument(
        "--type",
        choices=["budget", "forecast", "drift", "model_changed", "rollout", "lifecycle"],
    )
    alerts.add_argument("--since", help="ISO 8601 date or time")
    alerts.add_argument("--limit", type=int, default=100)
