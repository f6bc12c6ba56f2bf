"""Limits and budgets shared by every replica through Redis.

Same semantics as ``MemoryLimiter`` (see ``sluicegate.admission.limits``),
with each call one round trip: ``admit`` runs one Lua script that checks every
counter and, only when all of them pass, records the request, the token
reservation, the concurrency slot and the budget reservation. Redis runs a
script atomically, so two replicas admitting at the same instant are
serialised and a limit holds exactly however many replicas there are.

Keys (all under ``prefix``):

- ``rpm:{subject}``, ``tpm:{subject}``: hashes of one-second buckets
  (``second -> amount``); buckets older than the window are deleted on the
  next admission, and the key expires two minutes after its last use.
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

Time is the caller's ``now``, passed to the scripts, never Redis's clock.
Connection failures and timeouts raise ``LimiterUnavailable``, so the caller
can apply its fail-open or fail-closed policy. All the keys of one call must
live on one server (plain Redis or a replicated primary, not Redis Cluster).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sluicegate.admission.limits import (
    CONCURRENCY_RETRY_S,
    DEFAULT_LEASE_S,
    WINDOW_S,
    Ask,
    Decision,
    LimiterUnavailable,
    Observation,
    Rule,
    Ticket,
    budget_key,
    decide,
    new_ticket,
    plan,
    usd_to_micro,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from sluicegate.admission.rebuild import BudgetSeed

__all__ = ["SETTLE_DELAY_S", "RedisLimiter"]

log = logging.getLogger("sluicegate.admission")

SETTLE_DELAY_S = 0.05
"""Longest a deferred settlement waits for an admission to travel with."""

_Call = tuple[list[str], list[str | int]]

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)
_WINDOW_KEY_TTL_S = 2 * WINDOW_S
_KIND_CODE = {"rpm": "w", "tpm": "w", "concurrency": "c", "budget": "b"}

# KEYS: one per counter. ARGV: now, now's second, ticket id, lease end,
# slot key TTL, then 4 per counter: kind (w window | c slots | b budget),
# limit, need, TTL (budget only). Returns {admitted, then per counter:
# used, wait in ms (-1 fits, -2 no wait helps), ms until the window is empty}.
_ADMIT = f"""
local now = tonumber(ARGV[1])
local sec = ARGV[2]
local oldest = tonumber(sec) - {WINDOW_S - 1}
local out = {{1}}
for i, key in ipairs(KEYS) do
  local a = 5 + (i - 1) * 4
  local kind = ARGV[a + 1]
  local limit = tonumber(ARGV[a + 2])
  local need = tonumber(ARGV[a + 3])
  local used, wait, reset = 0, -1, 0
  if kind == 'w' then
    local flat = redis.call('HGETALL', key)
    local secs, vals, stale = {{}}, {{}}, {{}}
    local newest = nil
    for j = 1, #flat, 2 do
      local s = tonumber(flat[j])
      if s < oldest then
        stale[#stale + 1] = flat[j]
      else
        local v = tonumber(flat[j + 1])
        used = used + v
        secs[#secs + 1] = s
        vals[s] = v
        if newest == nil or s > newest then newest = s end
      end
    end
    if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
    if newest ~= nil then reset = math.ceil((newest + {WINDOW_S} - now) * 1000) end
    if used + need > limit then
      if need > limit then
        wait = -2
      else
        table.sort(secs)
        local left = used
        wait = {WINDOW_S * 1000}
        for _, s in ipairs(secs) do
          left = left - vals[s]
          if left + need <= limit then
            wait = math.max(0, math.ceil((s + {WINDOW_S} - now) * 1000))
            break
          end
        end
      end
    end
  elseif kind == 'c' then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
    used = redis.call('ZCARD', key)
    if used + 1 > limit then
      if limit < 1 then wait = -2 else wait = {round(CONCURRENCY_RETRY_S * 1000)} end
    end
  else
    used = tonumber(redis.call('GET', key) or '0')
    if used + need > limit then wait = -2 end
  end
  if wait ~= -1 then out[1] = 0 end
  out[#out + 1] = used
  out[#out + 1] = wait
  out[#out + 1] = reset
end
if out[1] == 1 then
  for i, key in ipairs(KEYS) do
    local a = 5 + (i - 1) * 4
    local kind = ARGV[a + 1]
    if kind == 'w' then
      redis.call('HINCRBY', key, sec, ARGV[a + 3])
      redis.call('EXPIRE', key, {_WINDOW_KEY_TTL_S})
    elseif kind == 'c' then
      redis.call('ZADD', key, ARGV[4], ARGV[3])
      redis.call('EXPIRE', key, ARGV[5])
    else
      redis.call('INCRBY', key, ARGV[a + 3])
      local ttl = tonumber(ARGV[a + 4])
      if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    end
  end
end
return out
"""

# KEYS: counters of one ticket. ARGV: ticket id, its second, then 2 per key:
# kind (w | c | b) and the delta. A counter that has since expired is left
# alone (recreating it would make a key without a TTL).
_ADJUST = """
for i, key in ipairs(KEYS) do
  local kind = ARGV[1 + i * 2]
  local delta = ARGV[2 + i * 2]
  if kind == 'w' then
    if redis.call('HEXISTS', key, ARGV[2]) == 1 then
      redis.call('HINCRBY', key, ARGV[2], delta)
    end
  elseif kind == 'c' then
    redis.call('ZREM', key, ARGV[1])
  elseif redis.call('EXISTS', key) == 1 then
    redis.call('INCRBY', key, delta)
  end
end
return 1
"""


# Settlements, then an admission, in one script (one round trip, one EVALSHA):
# the two scripts above as local functions. Their arguments come as one JSON
# array, [[[key count, [args]] per settlement], [admission args]], because
# encoding each of dozens of arguments costs the client more than the trip;
# KEYS holds the settlements' keys in order, then the admission's.
_SETTLE_THEN_ADMIT = f"""
local function adjust(KEYS, ARGV)
{_ADJUST}
end
local function admit(KEYS, ARGV)
{_ADMIT}
end
local spec = cjson.decode(ARGV[1])
local ki = 1
for _, settlement in ipairs(spec[1]) do
  local ks = {{}}
  for j = 1, settlement[1] do ks[j] = KEYS[ki]; ki = ki + 1 end
  adjust(ks, settlement[2])
end
local ks = {{}}
for j = ki, #KEYS do ks[#ks + 1] = KEYS[j] end
return admit(ks, spec[2])
"""

# KEYS: the warm marker, then budget counters. ARGV: per counter, micro-dollars
# and TTL (0: none). Seeds only when this call is the one that sets the marker.
_SEED = """
if not redis.call('SET', KEYS[1], '1', 'NX') then return 0 end
for i = 2, #KEYS do
  redis.call('INCRBY', KEYS[i], ARGV[i * 2 - 3])
  local ttl = tonumber(ARGV[i * 2 - 2])
  if ttl > 0 then redis.call('EXPIRE', KEYS[i], ttl) end
end
return 1
"""

WARM_KEY = "warm"
"""Set once budgets have been rebuilt; gone after Redis loses its data."""


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
        self._adjust_script = client.register_script(_ADJUST)
        self._seed = client.register_script(_SEED)
        self._settle_then_admit_script = client.register_script(_SETTLE_THEN_ADMIT)
        self.round_trips = 0  # to Redis, for the metrics and the benchmark
        self._deferred: list[_Call] = []
        self._flush_timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    async def load(self) -> None:
        """Load the scripts into Redis (idempotent)."""
        try:
            for script in (_ADJUST, _SETTLE_THEN_ADMIT, _SEED):
                await self.client.script_load(script)
        except _UNREACHABLE as exc:
            raise LimiterUnavailable(str(exc)) from exc

    async def admit(self, rules: Sequence[Rule], ask: Ask) -> Decision:
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
        seen = [
            Observation(int(reply[j]), _wait(int(reply[j + 1])), int(reply[j + 2]) / 1000)
            for j in range(1, len(reply), 3)
        ]
        return decide(entries, seen, ask, ticket if int(reply[0]) == 1 else None)

    async def settle(self, ticket: Ticket, *, tokens: int, cost_usd: float, now: float) -> None:
        if ticket.done:
            return
        ticket.done = True
        await self._adjust(
            ticket, 0, tokens - ticket.tokens, usd_to_micro(cost_usd) - ticket.cost_micro
        )

    async def release(self, ticket: Ticket) -> None:
        if ticket.done:
            return
        ticket.done = True
        await self._adjust(ticket, -1, -ticket.tokens, -ticket.cost_micro)

    async def settle_later(
        self, ticket: Ticket, *, tokens: int, cost_usd: float, now: float
    ) -> None:
        if ticket.done:
            return
        ticket.done = True
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
        self, script: Any, keys: list[str], args: list[str | int] | list[bytes]
    ) -> list[Any]:
        self.round_trips += 1
        try:
            reply: list[Any] = await script(keys=keys, args=args)
        except _UNREACHABLE as exc:
            raise LimiterUnavailable(str(exc)) from exc
        return reply


def _wait(ms: int) -> float | None:
    if ms == -1:
        return None
    if ms == -2:
        return math.inf
    return ms / 1000
