"""Active health checks: probe targets in the background so a dead one is found
before a client's request finds it, and a recovered one is let back in sooner.

A probe is a real, minimal call through the provider's own adapter (one user
message, one output token), so it tests exactly the path clients use, for every
provider type, at the price of a token per probe. Its outcome feeds the same
breaker as client traffic; while a breaker is open, probes wait for its
half-open moment like any other call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from sluicegate.canonical import ChatRequest, GatewayError, Message, TextPart
from sluicegate.resilience.health import TargetHealth
from sluicegate.runtime.aliases import Target

log = logging.getLogger("sluicegate.health")

PING = "ping"


async def probe(target: Target, health: TargetHealth) -> bool | None:
    """One probe; True or False as its verdict, None when the breaker kept it back."""
    state = health.state(target.label)
    if not state.breaker.allow():
        return None
    generation = state.started()
    started = time.perf_counter()
    request = ChatRequest(
        model=target.model,
        messages=[Message(role="user", content=[TextPart(text=PING)])],
        max_tokens=1,
    )
    try:
        async for _ in target.provider.chat(request, target.model):
            pass
    except GatewayError as err:
        state.finished(ok=not err.retryable, latency_s=None, error=err.code, generation=generation)
        return not err.retryable
    except Exception:
        log.exception("health probe of %s failed unexpectedly", target.label)
        state.abandoned(generation=generation)
        return None
    state.finished(ok=True, latency_s=time.perf_counter() - started, generation=generation)
    return True


class HealthChecks:
    """One background task per target whose provider sets ``health_check_interval_s``."""

    def __init__(self, health: TargetHealth) -> None:
        self.health = health
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, targets: Iterable[Target]) -> None:
        seen: set[str] = set()
        for target in targets:
            interval = target.provider.config.health_check_interval_s
            if interval is None or target.label in seen:
                continue
            seen.add(target.label)
            self._tasks.append(
                asyncio.get_running_loop().create_task(
                    self._loop(target, interval), name=f"health-check {target.label}"
                )
            )

    async def restart(self, targets: Iterable[Target]) -> None:
        await self.stop()
        self.start(targets)

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, target: Target, interval: float) -> None:
        while True:
            await probe(target, self.health)
            await asyncio.sleep(interval)
