"""The ``cache-invalidate`` command: remove response cache entries by tenant (or
the shared scope), alias and tag, or all of them; the API checks the choice."""

from __future__ import annotations

import argparse

from sluicegate.cli.admin_api import admin_call, print_json

__all__ = ["run_cache_invalidate"]


def run_cache_invalidate(args: argparse.Namespace) -> int:
    body = {
        "tenant": args.tenant,
        "shared": args.shared,
        "alias": args.alias,
        "tag": args.tag,
        "all": args.all,
    }
    answer = admin_call(args, "POST", "/admin/cache/invalidate", body)
    if args.json:
        print_json(answer)
    else:
        print(f"{answer['invalidated']} cache entries removed")
    return 0
