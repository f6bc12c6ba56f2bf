"""The storage schema from the command line: ``migrate``, and the check ``serve``
makes before it starts any worker.

PostgreSQL is migrated by an operator (``sluicegate migrate``, once per
upgrade), never by a gateway: ``serve`` only checks that the schema is current
and refuses to start otherwise. URLs are printed without their password.
"""

from __future__ import annotations

import argparse
import sys

from sluicegate.cli.config_file import load_or_report
from sluicegate.config import Config

__all__ = ["run_migrate", "safe_url", "storage_ready"]


def run_migrate(args: argparse.Namespace) -> int:
    import asyncio

    from sluicegate.state.storage import SchemaError, migrate_storage

    url = args.url
    if url is None:
        config = load_or_report(args.config)
        if config is None:
            return 2
        url = config.storage.url
    try:
        before, after = asyncio.run(migrate_storage(url))
    except SchemaError as exc:
        print(f"sluicegate: {exc}", file=sys.stderr)
        return 1
    except (OSError, Exception) as exc:
        print(f"sluicegate: cannot migrate {safe_url(url)}: {exc}", file=sys.stderr)
        return 1
    if before == after:
        print(f"{safe_url(url)}: schema already at version {after}")
    else:
        print(f"{safe_url(url)}: schema migrated from version {before} to {after}")
    return 0


def storage_ready(config: Config) -> bool:
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
            f"sluicegate: cannot reach the storage at {safe_url(config.storage.url)}: {exc}",
            file=sys.stderr,
        )
        return False
    return True


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
