"""The admin handler that reloads the config file, in every worker of the group.

A config that does not load is refused and the running one stays in use, so
a typo in the file never takes the gateway down.
"""

from __future__ import annotations

from aiohttp import web

from sluicegate.admin.http import gateway_of, json_answer
from sluicegate.admin.schemas import Reloaded
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.config.loader import ConfigError
from sluicegate.group.member import GROUP

__all__ = ["reload_config"]


async def reload_config(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    group = request.app.get(GROUP)
    try:
        if group is None:
            reloaded, workers = await gateway.reload(), 1
        else:  # every worker of the group applies it
            reloaded, workers = await group.reload()
    except (ConfigError, ValueError) as exc:
        raise GatewayError.invalid(
            f"the config was not reloaded; the running one stays in use: {exc}",
            code=ErrorCode.INVALID_CONFIG,
        ) from exc
    except RuntimeError as exc:
        # Gateway.reload raises a plain RuntimeError when there is no file to
        # re-read; subclasses (NotImplementedError...) are real failures.
        if type(exc) is not RuntimeError:
            raise
        raise GatewayError(ErrorKind.CONFLICT, str(exc), code=ErrorCode.NO_CONFIG_FILE) from exc
    config = reloaded.config
    return json_answer(
        Reloaded(
            providers=len(config.providers),
            models=len(config.models),
            tenants=len(config.tenants),
            not_applied=reloaded.not_applied,
            workers=workers,
        )
    )
