"""The control channel: calls both ways between two Peers on a socket pair."""

from __future__ import annotations

import asyncio
import socket

import pytest

from sluicegate.group.rpc import ChannelClosed, Handler, Peer, RemoteError


async def pair(left: dict[str, Handler], right: dict[str, Handler]) -> tuple[Peer, Peer]:
    a, b = socket.socketpair()
    return await Peer.connect(a, left), await Peer.connect(b, right)


async def test_each_end_calls_the_other_even_while_its_own_call_waits() -> None:
    calls: list[str] = []

    async def collect() -> list[int]:
        calls.append("collect")
        return [1, 2]

    async def scrape() -> bytes:
        # The supervisor asks the worker that asked it, before answering.
        return repr(await supervisor.call("collect")).encode()

    worker, supervisor = await pair({"collect": collect}, {"scrape": scrape})
    assert await worker.call("scrape") == b"[1, 2]"
    assert calls == ["collect"]


async def test_a_failing_handler_is_a_remote_error_and_the_channel_goes_on() -> None:
    async def broken() -> None:
        raise ValueError("no such thing")

    async def fine(x: int) -> int:
        return x + 1

    caller, _ = await pair({}, {"broken": broken, "fine": fine})
    with pytest.raises(RemoteError, match="ValueError: no such thing"):
        await caller.call("broken")
    assert await caller.call("fine", 1) == 2


async def test_calls_fail_when_the_other_end_goes_away() -> None:
    hold = asyncio.Event()

    async def slow() -> None:
        await hold.wait()

    lost = asyncio.Event()
    a, b = socket.socketpair()
    caller = await Peer.connect(a, {}, on_lost=lost.set)
    callee = await Peer.connect(b, {"slow": slow})
    waiting = asyncio.ensure_future(caller.call("slow"))
    await asyncio.sleep(0.01)
    callee.close()
    with pytest.raises(ChannelClosed):
        await waiting
    await asyncio.wait_for(lost.wait(), 5)
    with pytest.raises(ChannelClosed):
        await caller.call("slow")
    hold.set()


async def test_a_notification_is_handled_and_not_answered() -> None:
    got = asyncio.Event()

    async def ready() -> None:
        got.set()

    sender, _ = await pair({}, {"ready": ready})
    sender.notify("ready")
    await asyncio.wait_for(got.wait(), 5)
