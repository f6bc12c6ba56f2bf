"""The ``serve`` command: load the config, check what it needs, and run the gateway.

Everything that can be found wrong before listening (the config, the storage
schema, an optional extra the config needs) is reported on stderr, with a
non-zero exit status, before any worker starts.
"""

from __future__ import annotations

import argparse
import logging
import sys

from sluicegate.cli.config_file import load_config, load_or_report
from sluicegate.cli.storage import storage_ready
from sluicegate.config import Config

__all__ = ["run_serve"]


def run_serve(args: argparse.Namespace) -> int:
    from sluicegate.serve import serve

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.workers < 1:
        print("sluicegate: --workers must be at least 1", file=sys.stderr)
        return 2
    config = load_or_report(args.config)
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
    if not storage_ready(config) or not _extras_ready(config):
        return 1

    def reload_source() -> Config:
        fresh = load_config(path)
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
