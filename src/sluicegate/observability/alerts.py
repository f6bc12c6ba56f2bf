"""Alert events (a budget nearly spent, a forecast over budget): logged, counted,
and POSTed as JSON to a webhook when one is configured.

Delivery never delays a request: each POST runs as its own task with a short
timeout, and a failed delivery is logged, not retried (the log line is the
record of the alert).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
from prometheus_client.core import Metric

from sluicegate.observability.metrics import counter

log = logging.getLogger("sluicegate.alerts")

WEBHOOK_TIMEOUT_S = 5.0


def usd(amount: float) -> str:
    """``$100.00``, ``$0.004``, ``$0.0125``: cents at least, and every digit down to a
    millionth, so that a small budget is never shown as ``$0.00``."""
    text = f"{amount:.6f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


class Alerts:
    def __init__(self, webhook: str | None = None) -> None:
        self.webhook = webhook
        self.sent: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, kind: str, message: str, **details: Any) -> None:
        """Record one alert event of ``kind`` (e.g. ``budget_alert``)."""
        self.sent[kind] += 1
        log.warning("%s: %s", kind, message)
        if self.webhook is not None:
            event = {"event": kind, "message": message, "ts": time.time(), **details}
            task = asyncio.get_running_loop().create_task(self._post(self.webhook, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, event: dict[str, Any]) -> None:
        timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(
                    url, data=orjson.dumps(event), headers={"content-type": "application/json"}
                ) as response,
            ):
                if response.status >= 300:
                    log.warning("alert webhook %s answered %d", url, response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("alert webhook %s failed: %s", url, exc)

    def metrics(self) -> Iterator[Metric]:
        yield counter(
            "sluicegate_alerts",
            "Alert events raised, by kind (budget_alert, ...).",
            ["kind"],
            (((kind,), n) for kind, n in self.sent.items()),
        )

    async def close(self) -> None:
        """Let deliveries in flight finish (bounded by their timeout)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
