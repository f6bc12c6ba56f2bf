"""The embedded defaults: what ``sluicegate serve`` runs with no config file.

A working gateway on the built-in ``echo`` provider, with one development
tenant, so that a new user can ``curl`` it at once. It listens on loopback
only; its well-known keys are for trying the gateway, never for production.
"""

from __future__ import annotations

from typing import Any

DEV_API_KEY = "sk-sluicegate-dev"
DEV_ADMIN_KEY = "sk-sluicegate-admin-dev"

EMBEDDED_DEFAULTS: dict[str, Any] = {
    "server": {"host": "127.0.0.1", "port": 8080, "admin_key": DEV_ADMIN_KEY},
    "storage": {"url": "sqlite:///./sluicegate.db"},
    "providers": [{"name": "echo", "type": "echo"}],
    "models": [
        {"name": "echo", "targets": [{"provider": "echo", "model": "echo-1"}]},
        {"name": "echo-embed", "targets": [{"provider": "echo", "model": "echo-embed-1"}]},
    ],
    "tenants": [{"name": "dev", "keys": [{"name": "dev", "key": DEV_API_KEY}]}],
}
