"""Circuit-breaker openings shared between replicas through Redis.

Each replica keeps its own ``CircuitBreaker`` per target, exactly as without
Redis; what the replicas share is the news that a target is down. When a
replica's breaker opens it publishes ``SET <prefix><label> <replica id> PX
<open period>``; every replica reads the keys of the targets it cares about in
the background and passes over a target that another replica has found down,
until that key is deleted (a probe succeeded somewhere) or Redis expires it
(the open period is over and the local breakers decide again).

Nothing here is on the request path: ``open_elsewhere()`` reads a local dict,
and ``publish_open()``/``publish_closed()`` only queue a write for a background
task. All Redis traffic is one pipelined round trip at a time (queued writes
first, then the reads), so a write and a later read of the same key are never
reordered. When Redis is unreachable the replica forgets every remote opening
and falls back to its own breakers: a Redis outage never fails a request.

Why not keep the whole breaker in Redis: that would put a round trip before
every upstream attempt and make every replica's request rate depend on Redis.
Sharing openings costs one small round trip per ``refresh_s`` per replica and
lets a target that one replica has seen die stop receiving traffic from all of
them within about ``refresh_s``.

Wiring (see ``SharedTargetHealth``)::

    sync = RedisBreakerSync(redis.asyncio.from_url(url))
    health = SharedTargetHealth(sync, policy)
    task = asyncio.create_task(sync.run())          # on startup
    ...
    state = health.state(label)
    if not health.available(label) or not state.breaker.allow():
        ...  # skip this target
    ...
    await sync.close(); await task                  # on cleanup (then close the client)
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sluicegate.resilience.breaker import DEFAULT_POLICY, BreakerPolicy, CircuitBreaker, Clock
from sluicegate.resilience.health import TargetHealth, TargetState

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisBreakerSync", "SharedTargetHealth", "SharedTargetState"]

log = logging.getLogger("sluicegate.breaker_sync")

# A queued write: the open period in seconds, or None to delete the key.
_Write = float | None


class RedisBreakerSync:
    """A replica's view of which targets other replicas have found down.

    ``client`` is owned by the caller (``close()`` does not close it). Any
    ``decode_responses`` setting works. ``timeout_s`` bounds each round trip,
    so a Redis that hangs, or redis-py retrying a refused connection with
    backoff, costs the background loop at most that long per attempt.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "sluicegate:breaker:",
        refresh_s: float = 0.25,
        clock: Clock = time.monotonic,
        timeout_s: float = 1.0,
        replica_id: str | None = None,
    ) -> None:
        if not refresh_s > 0 or not timeout_s > 0:
            raise ValueError("refresh_s and timeout_s must be > 0")
        self._client = client
        self._prefix = prefix
        self._refresh_s = refresh_s
        self._clock = clock
        self._timeout_s = timeout_s
        self.replica_id = (
            replica_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        # label -> (when the opening expires on `clock`, the replica that published it)
        self._cache: dict[str, tuple[float, str]] = {}
        self._watched: set[str] = set()
        self._pending: dict[str, _Write] = {}  # coalesced: the latest write per label wins
        self._written: dict[str, int] = {}  # label -> sequence number of its latest local write
        self._seq = 0
        self._io = asyncio.Lock()  # one round trip at a time keeps writes and reads in order
        self._writer: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._down = False  # inside an outage: logged once, cache empty
        self._errors = 0
        self._last_error: str | None = None
        self._refreshed_at: float | None = None

    # -- the request path: local reads only -------------------------------------------

    def open_elsewhere(self, label: str) -> bool:
        """Has another replica published ``label`` as open, and is that opening still on?

        This replica's own openings are not counted: its own breaker already knows.
        """
        entry = self._cache.get(label)
        if entry is None:
            return False
        expires_at, owner = entry
        return owner != self.replica_id and self._clock() < expires_at

    def retry_in_s(self, label: str) -> float | None:
        """Seconds until another replica's opening of ``label`` expires (for Retry-After)."""
        entry = self._cache.get(label)
        if entry is None or entry[1] == self.replica_id:
            return None
        left = entry[0] - self._clock()
        return left if left > 0 else None

    # -- publishing: queue and return ---------------------------------------------------

    def publish_open(self, label: str, open_s: float) -> None:
        """Tell the other replicas ``label`` is down for ``open_s`` seconds. Never blocks."""
        if not open_s > 0:
            return
        self._cache[label] = (self._clock() + open_s, self.replica_id)
        self._queue(label, open_s)

    def publish_closed(self, label: str) -> None:
        """Tell every replica ``label`` works again (a probe succeeded). Never blocks.

        The key is deleted whoever set it: a target that answered a probe here
        is worth trying everywhere, and each replica's own breaker still guards it.
        """
        self._cache.pop(label, None)
        self._queue(label, None)

    # -- interest -----------------------------------------------------------------------

    def watch(self, labels: Iterable[str]) -> None:
        """Follow these targets' openings too (adds to the set; cheap to repeat)."""
        self._watched.update(labels)

    def unwatch(self, labels: Iterable[str]) -> None:
        """Stop following these targets (say, removed by a config reload)."""
        for label in labels:
            self._watched.discard(label)
            self._cache.pop(label, None)

    # -- background ---------------------------------------------------------------------

    async def run(self) -> None:
        """Refresh the cache every ``refresh_s`` until ``close()``. Never raises on Redis errors."""
        while not self._stop.is_set():
            await self._round_trip(read=True)
            try:
                async with asyncio.timeout(self._refresh_s):
                    await self._stop.wait()
            except TimeoutError:
                pass

    async def refresh(self) -> None:
        """One round trip now: send queued writes and re-read the watched keys."""
        await self._round_trip(read=True)

    async def close(self) -> None:
        """Stop ``run()`` and give queued writes (say, a last probe's success) one try."""
        self._stop.set()
        if self._pending:
            await self._round_trip(read=False)
        writer = self._writer
        if writer is not None and not writer.done():
            await writer

    def snapshot(self) -> dict[str, object]:
        """For /readyz and the admin API. Times are seconds from now."""
        now = self._clock()
        return {
            "replica_id": self.replica_id,
            "reachable": not self._down,
            "errors": self._errors,
            "last_error": self._last_error,
            "refreshed_s_ago": None if self._refreshed_at is None else now - self._refreshed_at,
            "watching": len(self._watched),
            "open": {
                label: {"by": owner, "expires_in_s": expires_at - now}
                for label, (expires_at, owner) in sorted(self._cache.items())
                if expires_at > now
            },
        }

    def _queue(self, label: str, write: _Write) -> None:
        self._watched.add(label)
        self._seq += 1
        self._written[label] = self._seq
        self._pending[label] = write
        if self._writer is not None and not self._writer.done():
            return  # the running writer loops until the queue is empty
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop here: run() sends the queue with its next refresh
        self._writer = loop.create_task(self._write_pending())

    async def _write_pending(self) -> None:
        while self._pending:
            await self._round_trip(read=False)

    async def _round_trip(self, *, read: bool) -> None:
        async with self._io:
            writes, self._pending = self._pending, {}
            labels = sorted(self._watched) if read else []
            if not writes and not labels:
                return
            seq, sent_at = self._seq, self._clock()
            pipe = self._client.pipeline(transaction=False)
            for label, open_s in writes.items():
                key = self._prefix + label
                if open_s is None:
                    pipe.delete(key)
                else:
                    pipe.set(key, self.replica_id, px=max(1, math.ceil(open_s * 1000)))
            keys = [self._prefix + label for label in labels]
            for key in keys:
                pipe.pttl(key)
            if keys:
                pipe.mget(keys)
            try:
                async with asyncio.timeout(self._timeout_s):
                    replies = await pipe.execute()
            except Exception as exc:  # any failure: fall back to local breakers, keep going
                self._failed(exc)
                return
            if self._down:
                self._down = False
                log.info("breaker sync: Redis is reachable again; sharing breaker openings")
            if not read:
                return
            self._refreshed_at = sent_at
            ttls = replies[len(writes) : len(writes) + len(labels)]
            owners = replies[-1] if keys else []
            for label, ttl, owner in zip(labels, ttls, owners, strict=True):
                if self._written.get(label, 0) > seq:
                    continue  # written here during the round trip: the reply is older
                if owner is None or ttl == -2:
                    self._cache.pop(label, None)
                else:
                    # No TTL (-1): someone set it by hand; open until deleted.
                    expires_at = math.inf if ttl < 0 else sent_at + ttl / 1000
                    name = owner.decode() if isinstance(owner, bytes) else str(owner)
                    self._cache[label] = (expires_at, name)

    def _failed(self, exc: BaseException) -> None:
        self._errors += 1
        self._last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._cache.clear()  # stale news is worse than none: each breaker decides alone
        if not self._down:
            self._down = True
            log.warning(
                "breaker sync: Redis unreachable (%s); breakers work per replica until it is back",
                self._last_error,
            )


class SharedTargetState(TargetState):
    """A ``TargetState`` that publishes its breaker's openings and closings.

    It compares the breaker's state around each verdict: an opening (from
    closed, or a failed half-open probe) is published with the new open
    period, a closing (a successful probe) deletes the key. A probe that
    starts also re-publishes the opening, so the other replicas hold off while
    this one probes instead of all coming back at once when the key expires.
    """

    __slots__ = ("sync",)

    def __init__(
        self, label: str, breaker: CircuitBreaker, sync: RedisBreakerSync, ewma_alpha: float
    ) -> None:
        super().__init__(label, breaker, ewma_alpha=ewma_alpha)
        self.sync = sync

    def started(self) -> int:
        if self.breaker.state == "half_open":  # allow() gave this attempt a probe slot
            self.sync.publish_open(self.label, _open_period(self.breaker))
        return super().started()

    def finished(
        self,
        *,
        ok: bool,
        latency_s: float | None,
        error: str | None = None,
        generation: int | None = None,
    ) -> None:
        breaker = self.breaker
        before, changes = breaker.state, breaker.generation
        super().finished(ok=ok, latency_s=latency_s, error=error, generation=generation)
        if breaker.generation == changes:
            return
        after = breaker.state
        if after == "open":
            self.sync.publish_open(self.label, _open_period(breaker))
        elif after == "closed" and before != "closed":
            self.sync.publish_closed(self.label)

    def snapshot(self) -> dict[str, object]:
        snapshot = super().snapshot()
        snapshot["open_elsewhere"] = self.sync.open_elsewhere(self.label)
        return snapshot


class SharedTargetHealth(TargetHealth):
    """``TargetHealth`` whose breakers share their openings through a ``RedisBreakerSync``.

    Targets are watched as soon as their state exists, and unwatched when a
    reload forgets them. The caller checks ``available(label)`` before
    ``breaker.allow()``, so a target down elsewhere costs no probe slot here.
    """

    def __init__(
        self,
        sync: RedisBreakerSync,
        policy: BreakerPolicy = DEFAULT_POLICY,
        *,
        clock: Clock = time.monotonic,
        ewma_alpha: float = 0.3,
    ) -> None:
        super().__init__(policy, clock=clock, ewma_alpha=ewma_alpha)
        self.sync = sync
        self._breaker_clock = clock
        self._ewma_alpha = ewma_alpha

    def available(self, label: str) -> bool:
        """False while another replica has this target's breaker open. O(1), no I/O."""
        return not self.sync.open_elsewhere(label)

    def state(self, label: str) -> TargetState:
        # TargetHealth has no factory hook, so the state is put into its dict here.
        state = self._states.get(label)
        if state is None:
            breaker = CircuitBreaker(self.policy, clock=self._breaker_clock)
            state = SharedTargetState(label, breaker, self.sync, self._ewma_alpha)
            self._states[label] = state
            self.sync.watch((label,))
        return state

    def reconfigure(self, policy: BreakerPolicy, keep: Iterable[str] | None = None) -> None:
        before = set(self._states)
        keep = None if keep is None else list(keep)
        super().reconfigure(policy, keep)
        if keep is not None:
            self.sync.unwatch(before - set(self._states))
            self.sync.watch(keep)


def _open_period(breaker: CircuitBreaker) -> float:
    period = breaker.snapshot()["open_s"]
    return float(period) if isinstance(period, int | float) else breaker.policy.open_s
