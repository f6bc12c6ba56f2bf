"""Alert events (a budget nearly spent, a forecast over budget, a drifting alias, a
served model that changed, ...): logged, counted, kept in the alert list
(``GET /admin/alerts``), and POSTed as JSON to a webhook when one is configured.

Delivery never delays a request: each POST runs as its own task with a short
timeout, and a failed delivery is logged, not retried (the log line is the
record of the alert).

An alert that must be raised once (a budget crossing its share in a period, a
forecast over budget in a month) goes through :meth:`Alerts.emit_once`, which
asks ``Firsts`` whether anyone raised it already. Alone, that is a set in this
process; in a worker group it is the supervisor's (``sluicegate.group``), so
the gateway raises it once rather than once per worker, and a worker started
again does not raise it a second time. With an alert store, its key is also
stored once across replicas (see :mod:`sluicegate.observability.alert_list`): only
the replica whose insert lands raises it.

Every alert has a ``type`` from the contract's list; the older kinds keep their
names in the log line and the webhook's ``event`` field.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, Protocol

import aiohttp
import orjson
from prometheus_client.core import Metric

from sluicegate.observability.alert_list import AlertStore, StoredAlert
from sluicegate.observability.metrics import counter

log = logging.getLogger("sluicegate.alerts")

WEBHOOK_TIMEOUT_S = 5.0

# The contract's alert type of each kind the gateway raises (kinds named before
# the alert list keep their names in log lines and the webhook's "event").
TYPES = {
    "budget_alert": "budget",
    "budget_forecast": "forecast",
    "drift": "drift",
    "model_changed": "model_changed",
    "rollout": "rollout",
    "lifecycle": "lifecycle",
}


def usd(amount: float) -> str:
    """``$100.00``, ``$0.004``, ``$0.0125``: cents at least, and every digit down to a
    millionth, so that a small budget is never shown as ``$0.00``."""
    text = f"{amount:.6f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


class Firsts(Protocol):
    async def first(self, key: str) -> bool:
        """True for the first call with ``key`` in the whole gateway, False after."""
        ...


class LocalFirsts:
    """``Firsts`` of one process. Keys are few (one per budget and period, per
    tenant and month), so they are kept for the life of the process."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    async def first(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


class Alerts:
    def __init__(
        self,
        webhook: str | None = None,
        *,
        firsts: Firsts | None = None,
        store: AlertStore | None = None,
    ) -> None:
        self.webhook = webhook
        self.firsts: Firsts = firsts if firsts is not None else LocalFirsts()
        self.store = store
        self.sent: Counter[str] = Counter()  # by type
        self._tasks: set[asyncio.Task[None]] = set()

    async def emit_once(self, key: str, kind: str, message: str, **details: Any) -> bool:
        """Raise the alert unless one with ``key`` was raised before, by this process,
        its worker group or (with a store) any replica; whether it was raised."""
        key = f"{kind}\x00{key}"
        if not await self.firsts.first(key):
            return False
        event = self._event(kind, message, details)
        if self.store is not None:
            try:
                if not await self.store.add(StoredAlert(**_stored(key, event))):
                    return False  # another replica raised it first
            except Exception as exc:  # the list is down: raise it anyway, said once here
                log.warning("alert %s not kept in the alert list: %s", kind, exc)
        self._raise(kind, message, event)
        return True

    def _event(self, kind: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": TYPES.get(kind, kind),
            "at": time.time(),
            "event": kind,
            "message": message,
            **details,
        }

    def _raise(self, kind: str, message: str, event: dict[str, Any]) -> None:
        self.sent[event["type"]] += 1
        log.warning("%s: %s", kind, message)
        if self.webhook is not None:
            event = {**event, "ts": event["at"]}
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
            "Alert events raised, by type (budget, forecast, drift, model_changed, ...).",
            ["type"],
            (((type_,), n) for type_, n in self.sent.items()),
        )

    async def close(self) -> None:
        """Let deliveries in flight finish (bounded by their timeout)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _stored(key: str, event: dict[str, Any]) -> dict[str, Any]:
    # A digest: the key joins names with NUL, which PostgreSQL's text cannot hold.
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return {"key": digest, "type": event["type"], "at": event["at"], "data": event}
