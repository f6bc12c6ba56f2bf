"""The in-process idempotency store: claims, answers, waiters, expiry and its bound."""

from __future__ import annotations

import asyncio
import logging

import pytest

from fakes.stored import stored_answer
from sluicegate.canonical import Usage
from sluicegate.idempotency import (
    RETRY,
    Conflict,
    InProgress,
    MemoryIdempotencyStore,
    Replay,
    Scope,
    Started,
    StoredAnswer,
    Token,
)
from sluicegate.idempotency.wire import encode_answer

SCOPE = Scope("acme", "key-1")
FP = "fingerprint-a"
OTHER_FP = "fingerprint-b"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now




async def start(store: MemoryIdempotencyStore, scope: Scope = SCOPE, fp: str = FP) -> Token:
    begun = await store.begin(scope, fp)
    assert isinstance(begun, Started), begun
    return begun.token


async def test_first_begin_claims_and_a_completed_answer_is_replayed() -> None:
    store = MemoryIdempotencyStore()
    token = await start(store)
    stored = stored_answer()
    await store.complete(token, stored)

    again = await store.begin(SCOPE, FP)

    assert again == Replay(stored)
    assert again.answer.usage == Usage(input_tokens=9, output_tokens=1)
    assert len(store) == 1


@pytest.mark.parametrize("completed", [True, False], ids=["completed", "in-progress"])
async def test_another_fingerprint_for_the_key_conflicts(completed: bool) -> None:
    store = MemoryIdempotencyStore()
    token = await start(store)
    if completed:
        await store.complete(token, stored_answer())

    assert await store.begin(SCOPE, OTHER_FP) == Conflict()


async def test_scopes_are_independent() -> None:
    store = MemoryIdempotencyStore()
    await store.complete(await start(store), stored_answer())

    assert isinstance(await store.begin(Scope("globex", "key-1"), FP), Started)
    assert isinstance(await store.begin(Scope("acme", "key-2"), OTHER_FP), Started)


async def test_waiters_get_the_answer_when_the_first_completes() -> None:
    store = MemoryIdempotencyStore()
    token = await start(store)
    begun = [await store.begin(SCOPE, FP) for _ in range(3)]
    assert all(isinstance(b, InProgress) for b in begun)
    waiting = [asyncio.ensure_future(b.waiter) for b in begun if isinstance(b, InProgress)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiting)

    stored = stored_answer()
    await store.complete(token, stored)

    assert await asyncio.gather(*waiting) == [Replay(stored)] * 3


async def test_waiters_retry_when_the_first_abandons_and_one_becomes_first() -> None:
    store = MemoryIdempotencyStore()
    token = await start(store)
    begun = await store.begin(SCOPE, FP)
    assert isinstance(begun, InProgress)
    waiting = asyncio.ensure_future(begun.waiter)
    await asyncio.sleep(0)

    await store.abandon(token)

    assert await waiting is RETRY
    second = await start(store)
    assert second != token
    assert isinstance(await store.begin(SCOPE, FP), InProgress)


async def test_one_waiter_giving_up_does_not_cancel_the_others() -> None:
    store = MemoryIdempotencyStore()
    token = await start(store)
    first, second = [await store.begin(SCOPE, FP) for _ in range(2)]
    assert isinstance(first, InProgress) and isinstance(second, InProgress)
    impatient = asyncio.ensure_future(first.waiter)
    patient = asyncio.ensure_future(second.waiter)
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient

    stored = stored_answer()
    await store.complete(token, stored)

    assert await patient == Replay(stored)


async def test_abandon_is_idempotent_and_a_released_token_cannot_complete() -> None:
    store = MemoryIdempotencyStore()
    token = await start(store)
    await store.abandon(token)
    await store.abandon(token)
    await store.complete(token, stored_answer())

    assert len(store) == 0
    assert isinstance(await store.begin(SCOPE, FP), Started)


async def test_an_expired_lease_frees_the_key_and_wakes_waiters() -> None:
    clock = Clock()
    store = MemoryIdempotencyStore(lease_s=30, clock=clock)
    stale = await start(store)
    begun = await store.begin(SCOPE, FP)
    assert isinstance(begun, InProgress)

    clock.now += 31
    assert await begun.waiter is RETRY
    fresh = await start(store)
    # The holder that lost its claim cannot overwrite the new holder's work.
    await store.complete(stale, stored_answer("stale"))
    await store.complete(fresh, stored_answer("fresh"))

    replay = await store.begin(SCOPE, FP)
    assert replay == Replay(stored_answer("fresh"))


async def test_answers_expire_after_the_ttl() -> None:
    clock = Clock()
    store = MemoryIdempotencyStore(ttl_s=60, clock=clock)
    await store.complete(await start(store), stored_answer())

    clock.now += 59.9
    assert isinstance(await store.begin(SCOPE, FP), Replay)
    clock.now += 0.1
    assert isinstance(await store.begin(SCOPE, FP), Started)
    assert len(store) == 0


async def test_the_oldest_answers_are_evicted_beyond_the_bound() -> None:
    store = MemoryIdempotencyStore(max_entries=2)
    for key in ("a", "b", "c"):
        scope = Scope("acme", key)
        await store.complete(await start(store, scope), stored_answer(key))

    assert len(store) == 2
    assert isinstance(await store.begin(Scope("acme", "a"), FP), Started)
    assert await store.begin(Scope("acme", "b"), FP) == Replay(stored_answer("b"))
    assert await store.begin(Scope("acme", "c"), FP) == Replay(stored_answer("c"))


def test_the_bound_must_allow_one_answer() -> None:
    with pytest.raises(ValueError):
        MemoryIdempotencyStore(max_entries=0)


# --------------------------------------------------------------------------- size bounds


def size_of(scope: Scope, stored: StoredAnswer, fp: str = FP) -> int:
    """What an answer counts for: its wire encoding (as Redis keeps it) and its key."""
    return len(encode_answer(stored)) + len(scope.tenant_id) + len(scope.key) + len(fp)


async def test_an_answer_over_max_entry_bytes_is_not_kept_and_its_key_is_released() -> None:
    store = MemoryIdempotencyStore(max_entry_bytes=10_000)
    token = await start(store)
    begun = await store.begin(SCOPE, FP)
    assert isinstance(begun, InProgress)
    waiting = asyncio.ensure_future(begun.waiter)
    await asyncio.sleep(0)

    await store.complete(token, stored_answer("x" * 10_000))

    assert await asyncio.wait_for(waiting, 1) is RETRY  # as for a failed answer: runs again
    assert isinstance(await store.begin(SCOPE, FP), Started)
    assert (len(store), store.bytes) == (0, 0)


async def test_an_answer_of_max_entry_bytes_is_kept() -> None:
    fits = stored_answer("x" * 5_000)
    store = MemoryIdempotencyStore(max_entry_bytes=size_of(SCOPE, fits))

    await store.complete(await start(store), fits)

    assert await store.begin(SCOPE, FP) == Replay(fits)
    assert store.bytes == size_of(SCOPE, fits)


async def test_the_first_answer_too_large_to_keep_is_a_warning_the_others_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, "sluicegate.idempotency")
    store = MemoryIdempotencyStore(max_entry_bytes=1_000)
    for key in ("a", "b", "c"):
        await store.complete(await start(store, Scope("acme", key)), stored_answer("x" * 2_000))

    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert "over max_entry_bytes (1000)" in caplog.records[0].getMessage()
    assert store.oversized.count == 3


async def test_answers_past_max_bytes_go_least_recently_used_first() -> None:
    a, b, c = (Scope("acme", key) for key in "abc")
    each = size_of(a, stored_answer("x" * 3_000))
    store = MemoryIdempotencyStore(max_bytes=2 * each + each // 2)
    await store.complete(await start(store, a), stored_answer("x" * 3_000))
    await store.complete(await start(store, b), stored_answer("x" * 3_000))
    assert isinstance(await store.begin(a, FP), Replay)  # a is used again: b is the oldest now

    await store.complete(await start(store, c), stored_answer("x" * 3_000))

    assert isinstance(await store.begin(b, FP), Started)  # evicted: runs again
    assert isinstance(await store.begin(a, FP), Replay)
    assert isinstance(await store.begin(c, FP), Replay)
    assert store.bytes == 2 * each <= store.max_bytes


async def test_large_answers_under_new_keys_stay_under_max_bytes() -> None:
    # The review's case, scaled down: streamed answers under fresh keys, one after another.
    store = MemoryIdempotencyStore(max_entry_bytes=300_000, max_bytes=1_000_000)
    for n in range(40):
        token = await start(store, Scope("acme", f"k{n}"))
        await store.complete(token, stored_answer("x" * 200_000))

    assert store.bytes <= 1_000_000
    assert len(store) == 4


async def test_an_expired_answer_behind_a_live_one_goes_when_it_is_looked_up() -> None:
    clock = Clock()
    store = MemoryIdempotencyStore(ttl_s=60, clock=clock)
    old, new = Scope("acme", "old"), Scope("acme", "new")
    await store.complete(await start(store, old), stored_answer("old"))
    clock.now += 30
    await store.complete(await start(store, new), stored_answer("new"))
    clock.now += 10
    assert isinstance(await store.begin(old, FP), Replay)  # now the most recently used

    clock.now += 21  # old's TTL is over, new's is not

    assert isinstance(await store.begin(old, FP), Started)
    assert await store.begin(new, FP) == Replay(stored_answer("new"))
    assert store.bytes == size_of(new, stored_answer("new"))
