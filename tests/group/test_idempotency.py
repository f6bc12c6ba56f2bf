"""GroupIdempotencyStore: workers sharing the supervisor's Idempotency-Key store.

Two workers' stores on one service, over real socket pairs: what one worker
claims or stores, the other meets, exactly as the in-process store decides;
plus what only the group has: a worker that goes away, a supervisor that does.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from fakes.stored import stored_answer
from sluicegate.canonical import GatewayError
from sluicegate.group.idempotency import GroupIdempotencyStore, IdempotencyService
from sluicegate.idempotency import (
    RETRY,
    Conflict,
    InProgress,
    MemoryIdempotencyStore,
    Replay,
    Scope,
    Started,
    Token,
)
from sluicegate.idempotency.store import kept_size
from sluicegate.idempotency.wire import encode_answer

SCOPE = Scope("t-acme", "order-1")
FP = "fingerprint-a"




async def join(service: IdempotencyService, **settings: int) -> GroupIdempotencyStore:
    """A worker's store on ``service``, as the supervisor connects one."""
    supervisor_end, worker_end = socket.socketpair()
    await service.serve(supervisor_end)
    return await GroupIdempotencyStore.connect(worker_end, **settings)


async def claim(store: GroupIdempotencyStore, scope: Scope = SCOPE) -> Token:
    begun = await store.begin(scope, FP)
    assert isinstance(begun, Started), begun
    return begun.token


@pytest.fixture
async def service() -> IdempotencyService:
    return IdempotencyService(MemoryIdempotencyStore())


@pytest.fixture
async def workers(service: IdempotencyService) -> AsyncIterator[list[GroupIdempotencyStore]]:
    stores = [await join(service), await join(service)]
    yield stores
    for store in stores:
        store.close()


async def test_an_answer_stored_by_one_worker_is_replayed_by_the_other(
    workers: list[GroupIdempotencyStore],
) -> None:
    a, b = workers
    await a.complete(await claim(a), stored_answer())
    assert await b.begin(SCOPE, FP) == Replay(stored_answer())
    assert await b.begin(SCOPE, "another request") == Conflict()


async def test_a_duplicate_on_the_other_worker_waits_for_the_first(
    workers: list[GroupIdempotencyStore],
) -> None:
    a, b = workers
    token = await claim(a)
    begun = await b.begin(SCOPE, FP)
    assert isinstance(begun, InProgress)
    assert await b.begin(SCOPE, "another request") == Conflict(), "running: conflicts too"
    waiting = asyncio.ensure_future(begun.waiter)
    await asyncio.sleep(0.01)
    assert not waiting.done()
    await a.complete(token, stored_answer())
    assert await asyncio.wait_for(waiting, 5) == Replay(stored_answer())


async def test_when_the_first_gives_up_a_waiter_runs_it(
    workers: list[GroupIdempotencyStore],
) -> None:
    a, b = workers
    token = await claim(a)
    begun = await b.begin(SCOPE, FP)
    assert isinstance(begun, InProgress)
    await a.abandon(token)
    assert await asyncio.wait_for(begun.waiter, 5) is RETRY
    await claim(b)  # the waiter becomes the first


async def test_a_waiter_that_gives_up_leaves_the_channel_working(
    workers: list[GroupIdempotencyStore],
) -> None:
    a, b = workers
    token = await claim(a)
    begun = await b.begin(SCOPE, FP)
    assert isinstance(begun, InProgress)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(begun.waiter, 0)
    await a.complete(token, stored_answer())
    assert await b.begin(SCOPE, FP) == Replay(stored_answer())


async def test_an_answer_over_max_entry_bytes_is_not_kept_and_its_key_is_released(
    service: IdempotencyService,
) -> None:
    fits = stored_answer("x" * 5_000)
    limit = kept_size(Token(SCOPE, FP, "1"), encode_answer(fits))
    a, b = await join(service, max_entry_bytes=limit), await join(service, max_entry_bytes=limit)
    token = await claim(a)
    begun = await b.begin(SCOPE, FP)
    assert isinstance(begun, InProgress)

    await a.complete(token, stored_answer("x" * 5_001))

    assert await asyncio.wait_for(begun.waiter, 5) is RETRY  # runs again, as in one process
    assert a.oversized.count == 1
    await a.complete(await claim(a), fits)  # exactly the limit is kept
    assert await b.begin(SCOPE, FP) == Replay(fits)


async def test_the_kept_answers_stay_under_max_bytes_for_the_whole_group() -> None:
    one = stored_answer("x" * 3_000)
    each = kept_size(Token(Scope("t-acme", "k0"), FP, "1"), encode_answer(one))
    service = IdempotencyService(MemoryIdempotencyStore(max_bytes=2 * each + each // 2))
    a, b = await join(service), await join(service)
    for n, worker in enumerate([a, b, a]):
        await worker.complete(await claim(worker, Scope("t-acme", f"k{n}")), one)

    assert service.store.bytes == 2 * each, "the oldest went, whichever worker stored it"
    assert isinstance(await b.begin(Scope("t-acme", "k0"), FP), Started)
    assert isinstance(await b.begin(Scope("t-acme", "k2"), FP), Replay)


async def test_a_worker_that_goes_away_releases_its_claims(
    workers: list[GroupIdempotencyStore],
) -> None:
    a, b = workers
    await claim(a)
    begun = await b.begin(SCOPE, FP)
    assert isinstance(begun, InProgress)
    a.close()
    # At once, not at the end of the lease: the waiter runs the request itself.
    assert await asyncio.wait_for(begun.waiter, 5) is RETRY
    await claim(b)


async def test_without_the_supervisor_a_key_is_refused_not_run_unguarded(
    workers: list[GroupIdempotencyStore],
) -> None:
    a, _ = workers
    token = await claim(a)
    a.close()
    await asyncio.sleep(0.01)
    with pytest.raises(GatewayError) as refused:
        await a.begin(SCOPE, FP)
    assert refused.value.code == "idempotency_store_unavailable"
    await a.complete(token, stored_answer())  # the answer has gone out: logged, not raised
