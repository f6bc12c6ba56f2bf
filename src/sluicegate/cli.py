"""The ``sluicegate`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sluicegate.config import Config


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
    serve.set_defaults(run=_serve)

    check = sub.add_parser("check", help="validate a config file")
    check.add_argument("--config", type=Path, required=True)
    check.set_defaults(run=_check)

    migrate = sub.add_parser(
        "migrate", help="create or upgrade the storage schema (needed for PostgreSQL)"
    )
    source = migrate.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="migrate this config's storage.url")
    source.add_argument("--url", help="migrate this database (postgresql://... or sqlite:///...)")
    migrate.set_defaults(run=_migrate)

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

    add("tenants", "list tenants", _tenants)
    create = add("tenant-create", "create a tenant", _tenant_create)
    create.add_argument("name")
    create.add_argument("--models", help="comma-separated allowed aliases (default: all)")
    limits = add(
        "tenant-limits",
        "change a tenant's limits (the ones not given stay as they are; none given: show them)",
        _tenant_limits,
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
    keys = add("keys", "list API keys", _keys)
    keys.add_argument("--tenant")
    key_create = add("key-create", "create an API key (its plaintext is printed once)", _key_create)
    key_create.add_argument("tenant")
    key_create.add_argument("name")
    revoke = add("key-revoke", "revoke an API key", _key_revoke)
    revoke.add_argument("id")
    usage = add("usage", "usage and cost, optionally grouped", _usage)
    usage.add_argument("--tenant")
    usage.add_argument("--since", help="ISO 8601 date or time (UTC when no zone)")
    usage.add_argument("--until")
    usage.add_argument("--group-by", choices=["tenant", "key", "alias", "target", "tag", "day"])
    usage.add_argument("--key", help="only this key name's requests")
    usage.add_argument(
        "--format", choices=["table", "csv", "json"], default="table", help="default: a table"
    )
    usage.add_argument(
        "--forecast", action="store_true", help="also print each tenant's month-end forecast"
    )
    forecast = add("forecast", "month-end spend forecast per tenant, against its budget", _forecast)
    forecast.add_argument("--tenant")
    forecast.add_argument("--format", choices=["table", "csv", "json"], default="table")
    flush = add(
        "cache-invalidate",
        "remove response cache entries (by tenant or shared scope, alias, tag; or --all)",
        _cache_invalidate,
    )
    flush.add_argument("--tenant")
    flush.add_argument("--shared", action="store_true", help="the shared scope's entries")
    flush.add_argument("--alias")
    flush.add_argument("--tag")
    flush.add_argument("--all", action="store_true", help="every entry")


def _admin(
    args: argparse.Namespace,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    query: dict[str, str | None] | None = None,
    *,
    text: bool = False,
) -> Any:
    from sluicegate.admin.client import AdminClient, AdminError

    if not args.admin_key:
        raise SystemExit("sluicegate: give --admin-key or set SLUICEGATE_ADMIN_KEY")
    try:
        return AdminClient(args.url, args.admin_key).call(method, path, body, query, text=text)
    except AdminError as exc:
        raise SystemExit(f"sluicegate: {exc}") from exc


def _show(
    args: argparse.Namespace, answer: Any, rows: list[dict[str, Any]], columns: list[str]
) -> int:
    from sluicegate.admin.client import table

    print(json.dumps(answer, indent=2) if args.json else table(rows, columns))
    return 0


def _tenants(args: argparse.Namespace) -> int:
    answer = _admin(args, "GET", "/admin/tenants")
    rows = [
        {
            **t,
            "models": ",".join(t["models"]) if t["models"] else "all",
            **{k: v for k, v in t["limits"].items() if k in ("rpm", "tpm", "budget_usd")},
        }
        for t in answer["data"]
    ]
    return _show(args, answer, rows, ["name", "source", "models", "rpm", "tpm", "budget_usd"])


def _tenant_create(args: argparse.Namespace) -> int:
    models = args.models.split(",") if args.models else None
    answer = _admin(args, "POST", "/admin/tenants", {"name": args.name, "models": models})
    return _show(args, answer, [answer], ["name", "models"])


# Limits that --clear makes unlimited again (priority: a key's own, back to its tenant's).
CLEARABLE = ("rpm", "tpm", "max_concurrency", "budget_usd", "budget_alert_at", "priority")
_LIMIT_FLAGS = ("rpm", "tpm", "max_concurrency", "budget_usd", "budget_period", "budget_alert_at")
_TENANT_ONLY = ("shadow", "weight")


def _tenant_limits(args: argparse.Namespace) -> int:
    """PATCH only the limits given (the API merges them), then say what changed."""
    scoped = args.key or args.model
    flags = [*_LIMIT_FLAGS, "priority", *_TENANT_ONLY]
    given = {name: getattr(args, name) for name in flags if getattr(args, name) is not None}
    problem = _limits_problem(args, given)
    if problem:
        print(f"sluicegate: {problem}", file=sys.stderr)
        return 2
    given |= dict.fromkeys(args.clear)

    path = f"/admin/tenants/{args.name}"
    before = _admin(args, "GET", path)
    if given:
        patch: dict[str, Any] = given
        if args.key:
            patch = {"keys": {args.key: given}}
        elif args.model:
            patch = {"models": {args.model: given}}
        answer = _admin(args, "PATCH", path, {"limits": patch})
    else:
        answer = before  # nothing to change: show them
    old, new = _scope(args, before["limits"]), _scope(args, answer["limits"])
    name = answer["name"] + (f"/{args.key}" if args.key else f"|{args.model}" if args.model else "")
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    if given:
        from sluicegate.admin.client import format_value

        changed = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
        for key in changed:
            print(f"{name}: {key} {format_value(old.get(key))} -> {format_value(new.get(key))}")
        if not changed:
            print(f"{name}: no limit changed")
    columns = ["name", "rpm", "tpm", "max_concurrency", "budget_usd", "budget_period"]
    columns += ["priority"] if args.key else [] if scoped else ["weight", "priority", "shadow"]
    return _show(args, answer, [{**new, "name": name}], columns)


def _limits_problem(args: argparse.Namespace, given: dict[str, Any]) -> str | None:
    """Why these options cannot go together, or None."""
    both = sorted(set(given) & set(args.clear))
    if both:
        return f"--{both[0].replace('_', '-')} and --clear {both[0]} contradict each other"
    scoped = args.key or args.model
    tenant_only = [n for n in _TENANT_ONLY if n in given]
    if scoped and tenant_only:
        return f"--{tenant_only[0]} applies to the whole tenant, not to one key or alias"
    if args.model and ("priority" in given or "priority" in args.clear):
        return "--priority applies to the tenant or one key, not to one alias"
    if not args.key and "priority" in args.clear:
        return "only a key's priority can be cleared (it then follows its tenant's)"
    return None


def _scope(args: argparse.Namespace, limits: dict[str, Any]) -> dict[str, Any]:
    """The limits the command is about: the tenant's own, one key's or one alias's
    (a key or alias without an entry of its own has the defaults: unlimited)."""
    from sluicegate.config import KeyLimits, RateLimits

    if args.key:
        return {**KeyLimits().model_dump(), **limits["keys"].get(args.key, {})}
    if args.model:
        return {**RateLimits().model_dump(), **limits["models"].get(args.model, {})}
    return {k: v for k, v in limits.items() if k not in ("keys", "models")}


def _keys(args: argparse.Namespace) -> int:
    path = f"/admin/tenants/{args.tenant}/keys" if args.tenant else "/admin/keys"
    answer = _admin(args, "GET", path)
    return _show(
        args, answer, answer["data"], ["id", "tenant", "name", "prefix", "source", "revoked_at"]
    )


def _key_create(args: argparse.Namespace) -> int:
    answer = _admin(args, "POST", f"/admin/tenants/{args.tenant}/keys", {"name": args.name})
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(f"key {answer['id']} for {answer['tenant']}: {answer['key']}")
        print("This is the only time the key is shown; store it now.")
    return 0


def _key_revoke(args: argparse.Namespace) -> int:
    answer = _admin(args, "POST", f"/admin/keys/{args.id}/revoke")
    return _show(args, answer, [answer], ["id", "tenant", "name", "revoked_at"])


def _usage(args: argparse.Namespace) -> int:
    query: dict[str, str | None] = {
        "tenant": args.tenant,
        "key": args.key,
        "since": args.since,
        "until": args.until,
        "group_by": args.group_by,
    }
    fmt = "json" if args.json else args.format
    if fmt == "csv":
        csv_text = _admin(args, "GET", "/admin/usage", query={**query, "format": "csv"}, text=True)
        print(csv_text, end="")
        return 0
    answer = _admin(args, "GET", "/admin/usage", query=query)
    forecast = None
    if args.forecast:
        forecast = _admin(args, "GET", "/admin/usage/forecast", query={"tenant": args.tenant})
    if fmt == "json":
        shown = {**answer, "forecast": forecast["data"]} if forecast else answer
        print(json.dumps(shown, indent=2))
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


def _forecast(args: argparse.Namespace) -> int:
    answer = _admin(args, "GET", "/admin/usage/forecast", query={"tenant": args.tenant})
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print(json.dumps(answer, indent=2))
    elif fmt == "csv":
        from sluicegate.state.ledger.export import rows_csv

        print(rows_csv(answer["data"], FORECAST_COLUMNS), end="")
    else:
        print(_forecast_table(answer["data"]))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    import asyncio

    from sluicegate.state.storage import SchemaError, migrate_storage

    url = args.url
    if url is None:
        config = _load_or_report(args.config)
        if config is None:
            return 2
        url = config.storage.url
    try:
        before, after = asyncio.run(migrate_storage(url))
    except SchemaError as exc:
        print(f"sluicegate: {exc}", file=sys.stderr)
        return 1
    except (OSError, Exception) as exc:
        print(f"sluicegate: cannot migrate {_safe_url(url)}: {exc}", file=sys.stderr)
        return 1
    if before == after:
        print(f"{_safe_url(url)}: schema already at version {after}")
    else:
        print(f"{_safe_url(url)}: schema migrated from version {before} to {after}")
    return 0


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _cache_invalidate(args: argparse.Namespace) -> int:
    body = {
        "tenant": args.tenant,
        "shared": args.shared,
        "alias": args.alias,
        "tag": args.tag,
        "all": args.all,
    }
    answer = _admin(args, "POST", "/admin/cache/invalidate", body)
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(f"{answer['invalidated']} cache entries removed")
    return 0


def _load(path: Path | None) -> Config:
    """The config (embedded defaults without a path); its warnings are logged."""
    from sluicegate.config.loader import (
        config_warnings,
        load_config_with_warnings,
        validate_config,
    )

    if path is None:
        from sluicegate.config.defaults import EMBEDDED_DEFAULTS

        config = validate_config(EMBEDDED_DEFAULTS)
        warnings = config_warnings(config)
    else:
        config, warnings = load_config_with_warnings(path)
    for warning in warnings:
        logging.getLogger("sluicegate.config").warning("%s", warning)
    return config


def _load_or_report(path: Path | None) -> Config | None:
    """The config (embedded defaults without a path), or None after saying why not."""
    from sluicegate.config.loader import ConfigError

    try:
        return _load(path)
    except ConfigError as exc:
        print(f"sluicegate: invalid config:\n{exc}", file=sys.stderr)
    except OSError as exc:
        print(f"sluicegate: cannot read config: {exc}", file=sys.stderr)
    return None


def _serve(args: argparse.Namespace) -> int:
    from sluicegate.serve import serve

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.workers < 1:
        print("sluicegate: --workers must be at least 1", file=sys.stderr)
        return 2
    config = _load_or_report(args.config)
    if config is None:
        return 2
    overrides = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if overrides:
        config = config.model_copy(update={"server": config.server.model_copy(update=overrides)})
    path = args.config
    if not _storage_ready(config) or not _extras_ready(config):
        return 1

    def reload_source() -> Config:
        fresh = _load(path)
        # Command-line overrides keep winning after a reload.
        return fresh.model_copy(update={"server": config.server}) if overrides else fresh

    if args.config is None:
        from sluicegate.config.defaults import DEV_ADMIN_KEY, DEV_API_KEY

        print(
            f"sluicegate: no --config given; using the embedded defaults (echo provider, "
            f"models 'echo' and 'echo-embed', API key '{DEV_API_KEY}', admin key "
            f"'{DEV_ADMIN_KEY}'). For trying the gateway only.",
            flush=True,
        )
    try:
        return serve(
            config,
            reload_source=reload_source if path is not None else None,
            workers=args.workers,
            announce=lambda line: print(line, flush=True),
        )
    except OSError as exc:
        print(
            f"sluicegate: cannot listen on {config.server.host}:{config.server.port}: {exc}",
            file=sys.stderr,
        )
        return 1


def _extras_ready(config: Config) -> bool:
    """An alias with a semantic cache needs the optional extra: say so before starting."""
    from sluicegate.gateway import import_semantic, wants_semantic_cache

    if not wants_semantic_cache(config):
        return True

    try:
        import_semantic()
    except RuntimeError as exc:
        print(f"sluicegate: {exc}", file=sys.stderr)
        return False
    return True


def _storage_ready(config: Config) -> bool:
    """PostgreSQL must be reachable and migrated before any worker starts."""
    import asyncio

    from sluicegate.state.storage import SchemaError, check_storage

    try:
        asyncio.run(check_storage(config.storage))
    except SchemaError as exc:
        print(f"sluicegate: {exc}", file=sys.stderr)
        return False
    except (OSError, Exception) as exc:
        print(
            f"sluicegate: cannot reach the storage at {_safe_url(config.storage.url)}: {exc}",
            file=sys.stderr,
        )
        return False
    return True


def _check(args: argparse.Namespace) -> int:
    """Exit status 1 for errors; warnings are printed (stderr) but the config is usable."""
    from sluicegate.config.loader import ConfigError, load_config_with_warnings

    try:
        config, warnings = load_config_with_warnings(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{args.config}: cannot read: {exc}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(warning, file=sys.stderr)
    print(
        f"{args.config}: ok ({len(config.providers)} providers, {len(config.models)} models, "
        f"{len(config.tenants)} tenants)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
