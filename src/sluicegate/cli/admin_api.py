"""How a command talks to a running gateway's admin API, and prints its answer.

Every admin command takes ``--url``, ``--admin-key`` and ``--json`` (declared
in ``parser``); a refusal or an unreachable gateway ends the command with the
API's message, and ``--json`` prints the API's answer as it came.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

__all__ = ["admin_call", "admin_client", "print_json", "show"]

if TYPE_CHECKING:
    from sluicegate.admin.client import AdminClient


def admin_call(
    args: argparse.Namespace,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    query: dict[str, str | None] | None = None,
    *,
    text: bool = False,
) -> Any:
    from sluicegate.admin.client import AdminError

    try:
        return admin_client(args).call(method, path, body, query, text=text)
    except AdminError as exc:
        raise SystemExit(f"sluicegate: {exc}") from exc


def admin_client(args: argparse.Namespace) -> AdminClient:
    """The client for ``--url`` with ``--admin-key`` (a command that reads a refusal's
    body itself calls it directly)."""
    from sluicegate.admin.client import AdminClient

    if not args.admin_key:
        raise SystemExit("sluicegate: give --admin-key or set SLUICEGATE_ADMIN_KEY")
    return AdminClient(args.url, args.admin_key)


def show(
    args: argparse.Namespace, answer: Any, rows: list[dict[str, Any]], columns: list[str]
) -> int:
    """The answer as JSON with ``--json``, else ``rows`` as a table of ``columns``."""
    from sluicegate.admin.client import table

    if args.json:
        print_json(answer)
    else:
        print(table(rows, columns))
    return 0


def print_json(answer: Any) -> None:
    """The API's answer as it came, indented for reading (``--json``)."""
    print(json.dumps(answer, indent=2))
