"""A worker's side of its group: the shared limiter and ``Idempotency-Key``
store (``sluicegate.group.idempotency``), ``/metrics`` for the whole group,
reloads that reach every worker, cache invalidations that reach every
worker's cache (``sluicegate.group.cache``), and alerts raised once for the
group (``first``: the supervisor remembers which were raised).

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
import logging
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from aiohttp import web

from sluicegate.cache.store import Selector
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.config import Config
from sluicegate.group.cache import GroupCache
from sluicegate.group.idempotency import GroupIdempotencyStore
from sluicegate.group.limiter import GroupLimiter
from sluicegate.group.metrics import Samples, samples_of
from sluicegate.group.rpc import ChannelClosed, Peer, RemoteError

if TYPE_CHECKING:
    from sluicegate.gateway import Gateway, Reloaded

__all__ = ["GROUP", "Channels", "InvalidateOutcome", "Member", "ReloadOutcome"]

log = logging.getLogger("sluicegate")


@dataclass(frozen=True, slots=True)
class Channels:
    """A worker's ends of its socket pairs to the supervisor."""

    control: socket.socket
    limiter: socket.socket | None  # None with Redis: the workers share that instead
    idempotency: socket.socket | None = None  # None with Redis, likewise


class ReloadOutcome(TypedDict):
    workers: int  # workers asked to apply the new config
    reloaded: int  # of which applied it
    errors: list[str]  # why the others did not


class InvalidateOutcome(TypedDict):
    workers: int  # workers asked to invalidate their caches
    invalidated: int  # entries they removed, together
    errors: list[str]  # why some did not answer


class Member:
    def __init__(
        self, limiter: GroupLimiter | None, idempotency: GroupIdempotencyStore | None = None
    ) -> None:
        self.limiter = limiter
        self.idempotency = idempotency
        self._control: Peer
        self._gateway: Gateway | None = None
        self._cache: GroupCache | None = None
        self._started = asyncio.Event()
        self.lost = asyncio.Event()  # set when the supervisor is gone

    @classmethod
    async def join(cls, channels: Channels, config: Config) -> Member:
        limiter = idempotency = None
        if channels.limiter is not None:
            limiter = await GroupLimiter.connect(channels.limiter)
        if channels.idempotency is not None:
            idempotency = await GroupIdempotencyStore.connect(
                channels.idempotency, max_entry_bytes=config.idempotency.max_entry_bytes
            )
        member = cls(limiter, idempotency)
        member._control = await Peer.connect(
            channels.control,
            {
                "collect": member._collect,
                "apply": member._apply,
                "invalidate_cache": member._invalidate_cache,
            },
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

    def cache(self, *, max_bytes: int, max_entry_bytes: int) -> GroupCache:
        """This worker's response cache (without Redis), invalidated group-wide."""
        self._cache = GroupCache(
            self.invalidate_caches, max_bytes=max_bytes, max_entry_bytes=max_entry_bytes
        )
        return self._cache

    async def invalidate_caches(self, selector: Selector) -> int:
        """Remove what ``selector`` matches from every worker's cache; the number of
        entries removed. Raises when some worker could not be reached, since its
        entries may still be served."""
        outcome: InvalidateOutcome = await self._control.call("invalidate_cache", selector)
        if outcome["errors"]:
            raise GatewayError(
                ErrorKind.INTERNAL,
                f"the cache invalidation reached {outcome['workers'] - len(outcome['errors'])} "
                f"of {outcome['workers']} workers ({outcome['invalidated']} entries removed): "
                f"{'; '.join(outcome['errors'])}",
                code=ErrorCode.CACHE_INVALIDATION_INCOMPLETE,
            )
        return outcome["invalidated"]

    async def first(self, key: str) -> bool:
        """Whether no worker of the group raised the alert ``key`` yet (``Firsts``)."""
        try:
            first: bool = await self._control.call("first", key)
        except (ChannelClosed, RemoteError) as exc:
            # Better twice than never: this worker raises it.
            log.warning("could not ask the group whether alert %r was raised: %s", key, exc)
            return True
        return first

    async def _invalidate_cache(self, selector: Selector) -> int:
        # A worker whose gateway has not built its cache yet holds no entries.
        return 0 if self._cache is None else await self._cache.invalidate_here(selector)

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
