"""A worker's side of its group: the shared limiter, ``/metrics`` for the whole
group, and reloads that reach every worker.

The worker's ``/metrics`` asks the supervisor, which asks every worker
(``collect``) and merges (``sluicegate.group.metrics``). ``POST
/admin/reload`` on any worker reloads that worker first, as a lone gateway
does (a bad config is refused and nothing changes anywhere), then hands the
``Config`` it loaded to the supervisor, which keeps it for workers it starts
later and has every other worker apply that same object (``apply``): no
worker re-reads the file, so none can end up on another version of it.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from aiohttp import web

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.config import Config
from sluicegate.group.limiter import GroupLimiter
from sluicegate.group.metrics import Samples, samples_of
from sluicegate.group.rpc import Peer

if TYPE_CHECKING:
    from sluicegate.gateway import Gateway, Reloaded

__all__ = ["GROUP", "Channels", "Member", "ReloadOutcome"]


@dataclass(frozen=True, slots=True)
class Channels:
    """A worker's ends of its socket pairs to the supervisor."""

    control: socket.socket
    limiter: socket.socket | None  # None with Redis: the workers share that instead


class ReloadOutcome(TypedDict):
    workers: int  # workers asked to apply the new config
    reloaded: int  # of which applied it
    errors: list[str]  # why the others did not


class Member:
    def __init__(self, limiter: GroupLimiter | None) -> None:
        self.limiter = limiter
        self._control: Peer
        self._gateway: Gateway | None = None
        self._started = asyncio.Event()
        self.lost = asyncio.Event()  # set when the supervisor is gone

    @classmethod
    async def join(cls, channels: Channels) -> Member:
        limiter = None
        if channels.limiter is not None:
            limiter = await GroupLimiter.connect(channels.limiter)
        member = cls(limiter)
        member._control = await Peer.connect(
            channels.control,
            {"collect": member._collect, "apply": member._apply},
            on_lost=member.lost.set,
        )
        return member

    def attach(self, gateway: Gateway) -> None:
        """Serve the group's metrics from ``gateway``'s /metrics and report its own."""
        self._gateway = gateway
        gateway.metrics.aggregate = self.scrape

    def ready(self) -> None:
        """Tell the supervisor this worker is serving."""
        self._started.set()
        self._control.notify("ready")

    async def scrape(self) -> bytes:
        """The whole group's metrics, in the Prometheus text format."""
        exposition: bytes = await self._control.call("scrape")
        return exposition

    async def reload(self) -> tuple[Reloaded, int]:
        """Reload this worker from the config file, then have every other worker
        apply the same config: what this worker's reload returned, and how many
        workers run it. Raises what ``Gateway.reload`` raises (the config is bad,
        or there is no file), and then no worker has changed."""
        assert self._gateway is not None
        reloaded = await self._gateway.reload()
        outcome: ReloadOutcome = await self._control.call("reload", reloaded.config)
        if outcome["errors"]:
            raise GatewayError(
                ErrorKind.INTERNAL,
                f"the new configuration reached {outcome['reloaded']} of "
                f"{outcome['workers']} workers: {'; '.join(outcome['errors'])}",
                code=ErrorCode.RELOAD_INCOMPLETE,
            )
        return reloaded, outcome["reloaded"]

    async def _collect(self) -> Samples:
        return [] if self._gateway is None else samples_of(self._gateway.metrics.registry)

    async def _apply(self, config: Config) -> Any:
        # A worker still starting applies it once it serves (it may have been
        # forked with the config of just before).
        await self._started.wait()
        assert self._gateway is not None
        await self._gateway.reload(config)
        return None


GROUP = web.AppKey("group", Member)
"""The application's ``Member``, only in a worker of ``serve --workers N`` (N > 1)."""
