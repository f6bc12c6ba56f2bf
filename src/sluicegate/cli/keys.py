"""The API key commands: ``keys``, ``key-create`` and ``key-revoke``.

A new key's plaintext is printed once: the gateway keeps only its hash.
"""

from __future__ import annotations

import argparse

from sluicegate.cli.admin_api import admin_call, print_json, show

__all__ = ["run_key_create", "run_key_revoke", "run_keys"]


def run_keys(args: argparse.Namespace) -> int:
    path = f"/admin/tenants/{args.tenant}/keys" if args.tenant else "/admin/keys"
    answer = admin_call(args, "GET", path)
    return show(
        args, answer, answer["data"], ["id", "tenant", "name", "prefix", "source", "revoked_at"]
    )


def run_key_create(args: argparse.Namespace) -> int:
    answer = admin_call(args, "POST", f"/admin/tenants/{args.tenant}/keys", {"name": args.name})
    if args.json:
        print_json(answer)
    else:
        print(f"key {answer['id']} for {answer['tenant']}: {answer['key']}")
        print("This is the only time the key is shown; store it now.")
    return 0


def run_key_revoke(args: argparse.Namespace) -> int:
    answer = admin_call(args, "POST", f"/admin/keys/{args.id}/revoke")
    return show(args, answer, [answer], ["id", "tenant", "name", "revoked_at"])
