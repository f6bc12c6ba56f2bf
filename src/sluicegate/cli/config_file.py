"""The config file as the local commands read it, and the ``check`` command.

``serve`` and ``migrate`` log the config's warnings and say on stderr why a
config does not load; ``check`` prints the warnings and fails (exit status 1)
only for errors: a config with warnings is usable.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sluicegate.config import Config

__all__ = ["load_config", "load_or_report", "run_check"]


def load_config(path: Path | None) -> Config:
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


def load_or_report(path: Path | None) -> Config | None:
    """The config (embedded defaults without a path), or None after saying why not."""
    from sluicegate.config.loader import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"sluicegate: invalid config:\n{exc}", file=sys.stderr)
    except OSError as exc:
        print(f"sluicegate: cannot read config: {exc}", file=sys.stderr)
    return None


def run_check(args: argparse.Namespace) -> int:
    """Exit status 1 for errors; warnings are printed (stderr) but the config is usable."""
    from sluicegate.config.loader import ConfigError, load_config_with_warnings
    from sluicegate.prompts.lint.layers import check_layers

    try:
        config, warnings = load_config_with_warnings(args.config)
        warnings += check_layers(config)
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
