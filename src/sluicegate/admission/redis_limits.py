"""Limits and budgets shared by every replica through Redis.

Same semantics as ``MemoryLimiter`` (see ``sluicegate.admission.limiter``),
with each call one round trip: ``admit`` runs one Lua script that checks every
counter and, only when all of them pass, records the request, the token
reservation, the concurrency slot and the budget reservation. Redis runs a
script atomically, so two replicas admitting at the same instant are
serialised and a limit holds exactly however many replicas there are.

Keys (all under ``prefix``):

- ``rpm:{subject}``, ``tpm:{subject}``: hashes of one-second buckets
  (``second -> amount``) plus their running total, so an admission reads three
  fields rather than the whole window: ``-1`` the total of the buckets, ``-2``
  the newest bucket's second, ``-3`` the oldest's (or lower). Buckets older
  than the window are deleted, and the fields recomputed from the buckets,
  when the oldest leaves the window (at most once a second) or when they are
  missing; the key expires two minutes after its newest bucket.
- ``conc:{subject}``: sorted set of ticket ids scored by lease end. A replica
  that dies without settling loses its slots when their lease ends
  (``lease_s``, ten minutes by default; ``renew`` extends it for long streams).
- ``budget:{subject}:{period}:{start}``: integer micro-dollars reserved plus
  spent in that UTC calendar period; expires 40 days after the period ends.

Settlement off the request path: ``settle_later`` queues a settlement and
sends it with this replica's next admission, in the same round trip and
ahead of it (so a client's next request already sees its previous one
settled), or after ``SETTLE_DELAY_S`` when no admission comes first. Until
then the reservation stands, which can only make limits stricter for that
moment, never looser.

The scripts (``admission/lua/``, rendered by ``admission/scripts.py``) go over
a connection of the limiter's own while it is free (the common case), as bytes
packed here, and over the client's pool otherwise: see ``_Lane``.

Time is the caller's ``now``, passed to the scripts, never Redis's clock.
Connection failures and timeouts raise ``LimiterUnavailable``, so the caller
can apply its fail-open or fail-closed policy. All the keys of one call must
live on one server (plain Redis or a replicated primary, not Redis Cluster).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sluicegate.admission import scripts
from sluicegate.admission.budget_periods import (
    BUDGET_RETENTION_S,
    budget_key,
    budget_period_start,
    usd_to_micro,
)
from sluicegate.admission.decide import Observation, admitted, decide, new_ticket, plan
from sluicegate.admission.limiter import (
    DEFAULT_LEASE_S,
    WINDOW_S,
    Ask,
    Decision,
    LimiterUnavailable,
    Rule,
    Ticket,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.connection import AbstractConnection
    from redis.commands.core import AsyncScript

    from sluicegate.admission.rebuild import BudgetSeed

__all__ = ["SETTLE_DELAY_S", "RedisLimiter"]

log = logging.getLogger("sluicegate.admission")

SETTLE_DELAY_S = 0.05
"""Longest a deferred settlement waits for an admission to travel with."""

_Call = tuple[list[str], list[str | int]]

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)
_TIMEOUTS = (RedisTimeoutError, TimeoutError)
_KIND_CODE = {"rpm": "w", "tpm": "w", "concurrency": "c", "budget": "b"}

WARM_KEY = "warm:2"
"""Set once budgets have been rebuilt; gone after Redis loses its data. 2: subjects
name tenants by id, so the first gateway of that version rebuilds every budget."""


class _Lane:
    """A connection of the limiter's own, for one script call at a time.

    Through the client, a call pays for the pool (acquire and release under a
    lock, a check that the connection is clean), the retry wrapper, metrics
    hooks, a task per write for the socket timeout, and encoding each argument:
    about as much CPU as the round trip itself (measured: 80 µs per PING
    against 14 µs on a bare connection). Here the command is packed once and
    written, and its reply read, on a connection taken from the client's pool
    and kept (so closing the client closes it), under one timeout for the
    whole exchange. When it is busy, concurrent callers use the pool.
    """

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._conn: AbstractConnection | None = None
        self.busy = False
        timeout = client.connection_pool.connection_kwargs.get("socket_timeout")
        self._timeout: float | None = float(timeout) if timeout else None

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.is_connected

    async def call(self, packed: bytes) -> Any:
        """Send one packed command and return its reply (redis-py's errors)."""
        self.busy = True
        try:
            conn = self._conn
            if conn is None:
                pool = self._client.connection_pool
                conn = self._conn = await pool.get_connection()  # type: ignore[no-untyped-call]
                # Its own timeout below covers write and read together: the
                # connection's would add a task per write and a timer per read.
                conn.socket_timeout = None
            if self._timeout is None:
                return await self._exchange(conn, packed)
            async with asyncio.timeout(self._timeout):
                return await self._exchange(conn, packed)
        finally:
            self.busy = False

    @staticmethod
    async def _exchange(conn: AbstractConnection, packed: bytes) -> Any:
        # Either call disconnects on any failure but an error reply, so a
        # half-read reply is never left on the connection.
        await conn.send_packed_command(packed, check_health=False)
        return await conn.read_response()


def _pack(args: Sequence[bytes]) -> bytes:
    """One command in the Redis protocol (what redis-py's ``pack_command`` makes)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
    return b"".join(parts)


class RedisLimiter:
    """Exact limits and budgets across replicas; one Redis round trip per call.

    ``client`` is owned by the caller (any ``decode_responses`` works). Call
    ``load()`` at startup so even the first admission is one round trip
    (otherwise the script is loaded on first use).
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "sluicegate:limit:",
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.lease_s = lease_s
        self._slot_ttl = str(math.ceil(lease_s) + WINDOW_S)
        self._adjust_script = client.register_script(scripts.ADJUST)
        self._seed = client.register_script(scripts.SEED)
        self._settle_then_admit_script = client.register_script(scripts.SETTLE_THEN_ADMIT)
        kwargs = client.connection_pool.connection_kwargs
        self._encoding: tuple[str, str] = (
            kwargs.get("encoding", "utf-8"),
            kwargs.get("encoding_errors", "strict"),
        )
        self._lane = _Lane(client)
        # Ticket ids: unique across replicas by the random prefix, cheap by the count.
        self._ticket_prefix = secrets.token_hex(6)
        self._tickets = 0
        self.round_trips = 0  # to Redis, for the metrics and the benchmark
        self._deferred: list[_Call] = []
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    async def load(self) -> None:
        """Load the scripts into Redis (idempotent)."""
        try:
            for script in (scripts.ADJUST, scripts.SETTLE_THEN_ADMIT, scripts.SEED):
                await self.client.script_load(script)
        except _UNREACHABLE as exc:
            raise LimiterUnavailable(str(exc)) from exc

    async def admit(self, rules: Sequence[Rule], ask: Ask) -> Decision:
        if len(rules) == 1:
            return await self._admit_one(rules[0], ask)
        entries = plan(rules, ask)
        if not entries:
            return decide(entries, [], ask, new_ticket(entries, ask))
        ticket = new_ticket(entries, ask)
        p = self.prefix
        keys = [p + e.key for e in entries]
        args: list[str | int] = [
            repr(ask.now),
            ticket.second,
            ticket.id,
            repr(ask.now + self.lease_s),
            self._slot_ttl,
        ]
        for e in entries:
            args += (_KIND_CODE[e.kind], e.limit, e.need, e.ttl_s)
        reply = await self._settle_then_admit(keys, args)
        return decide(entries, _observations(reply), ask, ticket if int(reply[0]) == 1 else None)

    async def _admit_one(self, rule: Rule, ask: Ask) -> Decision:
        """The common case, one rule, without building the general plan (its
        Entry objects, the dedup by key, ``decide``): the same script call and,
        when admitted, the same Decision, for a fraction of the CPU on the
        request path. A refusal is worked out by the general code."""
        now, second, p = ask.now, math.floor(ask.now), self.prefix
        self._tickets += 1
        tid = f"{self._ticket_prefix}{self._tickets:x}"
        keys: list[str] = []
        args: list[str | int] = [repr(now), second, tid, repr(now + self.lease_s), self._slot_ttl]
        windows: list[tuple[str, int, int]] = []  # (header name, limit, need)
        if rule.rpm is not None:
            keys.append(p + rule.rpm_key)
            args += ("w", rule.rpm, 1, 0)
            windows.append(("requests", rule.rpm, 1))
        if rule.tpm is not None:
            keys.append(p + rule.tpm_key)
            args += ("w", rule.tpm, ask.tokens, 0)
            windows.append(("tokens", rule.tpm, ask.tokens))
        if rule.max_concurrency is not None:
            keys.append(p + rule.conc_key)
            args += ("c", rule.max_concurrency, 1, 0)
        cost = usd_to_micro(ask.cost_usd)
        budget = ""
        if rule.budget_usd is not None:
            label, end = budget_period_start(rule.budget_period, now)
            budget = f"budget:{rule.subject}:{rule.budget_period}:{label}"
            ttl = 0 if end is None else math.ceil(end - now) + BUDGET_RETENTION_S
            keys.append(p + budget)
            args += ("b", usd_to_micro(rule.budget_usd), cost, ttl)
        if not keys:  # a rule without limits: nothing to check or reserve
            return decide([], [], ask, new_ticket([], ask))
        reply = await self._settle_then_admit(keys, args)
        if reply[0] != 1:
            entries = plan([rule], ask)
            return decide(entries, _observations(reply), ask, None)
        ticket = Ticket(
            id=tid,
            second=second,
            tokens=ask.tokens,
            cost_micro=cost,
            rpm_keys=rule.rpm_keys,
            tpm_keys=rule.tpm_keys,
            concurrency_keys=rule.conc_keys,
            budget_keys=(budget,) if budget else (),
        )
        # Windows come first in the reply, in this order: used before the ask, ms to empty.
        return admitted(
            ticket,
            now,
            (
                (name, limit, int(reply[1 + 3 * j]) + need, int(reply[3 + 3 * j]) / 1000)
                for j, (name, limit, need) in enumerate(windows)
            ),
        )

    async def settle(self, ticket: Ticket, *, tokens: int, cost_usd: float, now: float) -> None:
        if not ticket.end():
            return
        await self._adjust(
            ticket, 0, tokens - ticket.tokens, usd_to_micro(cost_usd) - ticket.cost_micro
        )

    async def release(self, ticket: Ticket) -> None:
        if not ticket.end():
            return
        await self._adjust(ticket, -1, -ticket.tokens, -ticket.cost_micro)

    async def settle_later(
        self, ticket: Ticket, *, tokens: int, cost_usd: float, now: float
    ) -> None:
        if not ticket.end():
            return
        call = self._adjustment(
            ticket, 0, tokens - ticket.tokens, usd_to_micro(cost_usd) - ticket.cost_micro
        )
        if call is None:
            return
        self._deferred.append(call)
        if self._flush_timer is None:
            self._flush_timer = asyncio.get_running_loop().call_later(
                SETTLE_DELAY_S, self._flush_in_background
            )

    async def flush(self) -> None:
        """Send the deferred settlements now."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        pending, self._deferred = self._deferred, []
        if not pending:
            return
        try:
            await self._pipeline(pending)
        except LimiterUnavailable as exc:  # leases and windows expire by themselves
            log.warning("could not settle %d reservations: %s", len(pending), exc)

    def _flush_in_background(self) -> None:
        self._flush_timer = None
        task = asyncio.get_running_loop().create_task(self.flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _settle_then_admit(self, keys: list[str], args: list[str | int]) -> list[Any]:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        pending, self._deferred = self._deferred, []
        settle_keys: list[str] = []
        for call_keys, _ in pending:
            settle_keys += call_keys
        spec = orjson.dumps([[[len(k), a] for k, a in pending], args])
        return await self._call(self._settle_then_admit_script, [*settle_keys, *keys], [spec])

    async def _pipeline(self, calls: list[_Call]) -> list[Any]:
        """Settlements in one round trip, by script hash; the script is loaded
        again and the batch resent if Redis has lost it."""
        for attempt in (1, 2):
            self.round_trips += 1
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for keys, args in calls:
                        pipe.evalsha(self._adjust_script.sha, len(keys), *keys, *args)
                    replies: list[Any] = await pipe.execute()
                return replies
            except NoScriptError:
                if attempt == 2:
                    raise
                await self.load()
            except _UNREACHABLE as exc:
                raise LimiterUnavailable(str(exc)) from exc
        raise AssertionError("unreachable")

    async def _adjust(self, ticket: Ticket, requests: int, tokens: int, micro: int) -> None:
        call = self._adjustment(ticket, requests, tokens, micro)
        if call is not None:
            await self._call(self._adjust_script, *call)

    def _adjustment(self, ticket: Ticket, requests: int, tokens: int, micro: int) -> _Call | None:
        p = self.prefix
        keys: list[str] = []
        args: list[str | int] = [ticket.id, ticket.second]
        for group, code, delta in (
            (ticket.rpm_keys, "w", requests),
            (ticket.tpm_keys, "w", tokens),
            (ticket.concurrency_keys, "c", 0),
            (ticket.budget_keys, "b", micro),
        ):
            if code != "c" and delta == 0:
                continue
            for key in group:
                keys.append(p + key)
                args += (code, delta)
        return (keys, args) if keys else None

    async def renew(self, ticket: Ticket, now: float) -> None:
        if ticket.done or not ticket.concurrency_keys:
            return
        until = repr(now + self.lease_s)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for key in ticket.concurrency_keys:
                    pipe.zadd(self.prefix + key, {ticket.id: until}, xx=True)
                    pipe.expire(self.prefix + key, int(self._slot_ttl))
                await pipe.execute()
        except _UNREACHABLE as exc:
            raise LimiterUnavailable(str(exc)) from exc

    async def cold(self) -> bool:
        """True when Redis holds no rebuilt budgets (new, or restarted empty)."""
        try:
            return not await self.client.exists(self.prefix + WARM_KEY)
        except _UNREACHABLE as exc:
            raise LimiterUnavailable(str(exc)) from exc

    async def seed_budgets(self, seeds: list[BudgetSeed]) -> bool:
        """Add the ledger's spend to the budget counters, unless another replica
        already did; True when this call did."""
        keys = [self.prefix + WARM_KEY, *(self.prefix + seed.key for seed in seeds)]
        args: list[str | int] = []
        for seed in seeds:
            args += (seed.micro, seed.ttl_s)
        reply = await self._call(self._seed, keys, args)
        return bool(reply)

    async def spent(self, subject: str, period: str, now: float) -> float:
        await self.flush()
        self.round_trips += 1
        try:
            value = await self.client.get(self.prefix + budget_key(subject, period, now))
        except _UNREACHABLE as exc:
            raise LimiterUnavailable(str(exc)) from exc
        return 0.0 if value is None else int(value) / 1_000_000

    async def _call(
        self, script: AsyncScript, keys: list[str], args: list[str | int] | list[bytes]
    ) -> list[Any]:
        """One script call: over the lane when it is free, else (or to recover) the pool."""
        self.round_trips += 1
        lane = self._lane
        if not lane.busy:
            was_connected = lane.connected
            try:
                reply: list[Any] = await lane.call(self._evalsha(script, keys, args))
                return reply
            except NoScriptError:  # Redis lost its scripts (a restart, SCRIPT FLUSH)
                await self._reload(script)
            except _TIMEOUTS as exc:  # no second try: a Redis this slow would only get slower
                raise LimiterUnavailable(f"Redis timed out: {exc}") from exc
            except _UNREACHABLE as exc:
                if not was_connected:
                    raise LimiterUnavailable(str(exc)) from exc
                # The kept connection had died (e.g. Redis restarted); the pool's
                # way reconnects. The script may have run before the connection
                # dropped: running it again can only over-count, as the pool's
                # own retry could.
        try:
            reply = await script(keys=keys, args=args)
        except _UNREACHABLE as exc:
            raise LimiterUnavailable(str(exc)) from exc
        return reply

    async def _reload(self, script: AsyncScript) -> None:
        try:
            await self.client.script_load(script.script)
        except _UNREACHABLE as exc:
            raise LimiterUnavailable(str(exc)) from exc

    def _evalsha(
        self, script: AsyncScript, keys: list[str], args: list[str | int] | list[bytes]
    ) -> bytes:
        encoding, errors = self._encoding
        packed = [b"EVALSHA", script.sha.encode(), b"%d" % len(keys)]
        packed += (key.encode(encoding, errors) for key in keys)
        for arg in args:
            if isinstance(arg, bytes):
                packed.append(arg)
            elif isinstance(arg, int):
                packed.append(b"%d" % arg)
            else:
                packed.append(arg.encode(encoding, errors))
        return _pack(packed)

def _observations(reply: list[Any]) -> list[Observation]:
    """The script's reply, per counter: used, wait in ms, ms until the window empties."""
    return [
        Observation(int(reply[j]), _wait(int(reply[j + 1])), int(reply[j + 2]) / 1000)
        for j in range(1, len(reply), 3)
    ]


def _wait(ms: int) -> float | None:
    if ms == -1:
        return None
    if ms == -2:
        return math.inf
    return ms / 1000
