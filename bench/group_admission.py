"""What an admission costs through a worker group's supervisor, in instructions.

A request with limits is admitted and, when it ends, settled (``settle_later``).
With one worker that is the in-process ``MemoryLimiter``; with ``--workers N``
and no Redis it is a message to the supervisor and its answer
(``GroupLimiter`` -> ``LimiterService``), the settlement riding with the
next admission. Here, as in ``serve``, the worker side runs on uvloop and the
supervisor side in a forked process on the standard event loop, joined by a
socket pair; callgrind counts both processes' user-space instructions (not
the kernel's share of the socket calls, nor the context switches). Each setup
runs twice, with ``--requests`` and with six times as many, and the
difference is divided by the difference in requests, so start-up does not
count. Needs valgrind.

    .venv/bin/python bench/group_admission.py [--requests 2000] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from sluicegate.admission.limiter import Ask, Limiter, Rule
from sluicegate.admission.memory_limiter import MemoryLimiter
from sluicegate.group.limiter import GroupLimiter, LimiterService

RULES = [Rule("tenant:acme", rpm=10**9, tpm=10**12, max_concurrency=10**6, budget_usd=10.0**9)]


async def requests(limiter: Limiter, n: int, concurrency: int) -> None:
    """``n`` requests from ``concurrency`` clients: admitted, then settled."""

    async def one_client(count: int) -> None:
        for _ in range(count):
            decision = await limiter.admit(RULES, Ask(40, 0.0001, time.time()))
            assert decision.ticket is not None
            await limiter.settle_later(decision.ticket, tokens=30, cost_usd=0.00008, now=0.0)

    await asyncio.gather(*(one_client(n // concurrency) for _ in range(concurrency)))
    await limiter.flush()


async def supervisor(sock: socket.socket) -> None:
    """Answer the worker until it hangs up (its transport then closes the socket)."""
    service = LimiterService()
    await (await service.serve(sock)).wait()
    assert service.unsettled == 0


async def worker(sock: socket.socket, n: int, concurrency: int) -> None:
    limiter = await GroupLimiter.connect(sock)
    await requests(limiter, n, concurrency)
    await limiter.spent("tenant:acme", "month", time.time())  # answered after every settlement
    limiter.close()


def child(setup: str, n: int, concurrency: int) -> None:
    if setup == "memory":
        uvloop.run(requests(MemoryLimiter(), n, concurrency))
        return
    supervisor_end, worker_end = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        worker_end.close()
        asyncio.run(supervisor(supervisor_end))
        os._exit(0)
    supervisor_end.close()
    uvloop.run(worker(worker_end, n, concurrency))
    os.waitpid(pid, 0)


def instructions(setup: str, n: int, concurrency: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/callgrind.%p",
             sys.executable, __file__, "--child", setup, "--requests", str(n),
             "--concurrency", str(concurrency)],
            check=True, capture_output=True,
        )  # fmt: skip
        total = 0
        for dump in Path(tmp).glob("callgrind.*"):  # one per process
            found = re.search(rb"^summary: (\d+)", dump.read_bytes(), re.MULTILINE)
            assert found is not None, f"no summary line in {dump}"
            total += int(found.group(1))
        return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--child", choices=["memory", "group"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.requests, args.concurrency)
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench: valgrind not found (apt-get install valgrind)")
    n, big = args.requests, args.requests * 6
    print(f"instructions per request (admit + settle_later), c={args.concurrency}:")
    for setup in ("memory", "group"):
        more = instructions(setup, big, args.concurrency) - instructions(setup, n, args.concurrency)
        print(f"  {setup:>6}: {more / (big - n) / 1000:.1f} k")


if __name__ == "__main__":
    main()
