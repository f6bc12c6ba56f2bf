"""The ``sluicegate`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

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
    return parser


def _load(path: Path | None) -> Config:
    from sluicegate.config.loader import load_config, validate_config

    if path is None:
        from sluicegate.config.defaults import EMBEDDED_DEFAULTS

        return validate_config(EMBEDDED_DEFAULTS)
    return load_config(path)


def _serve(args: argparse.Namespace) -> int:
    from sluicegate.config.loader import ConfigError, load_config
    from sluicegate.server.serve import serve

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.workers < 1:
        print("sluicegate: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        config = _load(args.config)
    except ConfigError as exc:
        print(f"sluicegate: invalid config:\n{exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"sluicegate: cannot read config: {exc}", file=sys.stderr)
        return 2
    overrides = {}
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if overrides:
        config = config.model_copy(update={"server": config.server.model_copy(update=overrides)})
    path = args.config

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


def _check(args: argparse.Namespace) -> int:
    from sluicegate.config.loader import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{args.config}: cannot read: {exc}", file=sys.stderr)
        return 1
    print(
        f"{args.config}: ok ({len(config.providers)} providers, {len(config.models)} models, "
        f"{len(config.tenants)} tenants)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
