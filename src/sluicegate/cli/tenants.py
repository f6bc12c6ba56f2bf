"""The tenant commands: ``tenants``, ``tenant-create`` and ``tenant-limits``.

``tenant-limits`` sends only the limits given (the API merges them into the
current ones), so the limits a command does not name stay as they are, and
then prints what changed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sluicegate.cli.admin_api import admin_call, print_json, show

__all__ = ["CLEARABLE", "run_tenant_create", "run_tenant_limits", "run_tenants"]


def run_tenants(args: argparse.Namespace) -> int:
    answer = admin_call(args, "GET", "/admin/tenants")
    rows = [
        {
            **t,
            "models": ",".join(t["models"]) if t["models"] else "all",
            **{k: v for k, v in t["limits"].items() if k in ("rpm", "tpm", "budget_usd")},
        }
        for t in answer["data"]
    ]
    return show(args, answer, rows, ["name", "source", "models", "rpm", "tpm", "budget_usd"])


def run_tenant_create(args: argparse.Namespace) -> int:
    models = args.models.split(",") if args.models else None
    answer = admin_call(args, "POST", "/admin/tenants", {"name": args.name, "models": models})
    return show(args, answer, [answer], ["name", "models"])


# Limits that --clear makes unlimited again (priority: a key's own, back to its tenant's).
CLEARABLE = ("rpm", "tpm", "max_concurrency", "budget_usd", "budget_alert_at", "priority")
_LIMIT_FLAGS = ("rpm", "tpm", "max_concurrency", "budget_usd", "budget_period", "budget_alert_at")
_TENANT_ONLY = ("shadow", "weight")


def run_tenant_limits(args: argparse.Namespace) -> int:
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
    before = admin_call(args, "GET", path)
    if given:
        patch: dict[str, Any] = given
        if args.key:
            patch = {"keys": {args.key: given}}
        elif args.model:
            patch = {"models": {args.model: given}}
        answer = admin_call(args, "PATCH", path, {"limits": patch})
    else:
        answer = before  # nothing to change: show them
    old, new = _scope(args, before["limits"]), _scope(args, answer["limits"])
    name = answer["name"] + (f"/{args.key}" if args.key else f"|{args.model}" if args.model else "")
    if args.json:
        print_json(answer)
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
    return show(args, answer, [{**new, "name": name}], columns)


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
