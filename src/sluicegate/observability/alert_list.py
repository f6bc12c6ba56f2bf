"""The alert list: what ``GET /admin/alerts`` reads, shared by replicas.

An alert has a key, and a key is stored once (a unique column): the replica
whose insert lands raises the alert (logs it, counts it, POSTs the webhook);
every other replica that saw the same thing finds the key taken and stays
quiet. That is how one drift or one model change is one alert, not one per
replica.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

# The most alerts one listing returns.
MAX_LISTED = 1000


class StoredAlert(msgspec.Struct, kw_only=True):
    key: str
    type: str
    at: float
    data: dict[str, Any]  # the alert as the webhook gets it, "type" and "at" included


class AlertStore(Protocol):
    async def add(self, alert: StoredAlert) -> bool:
        """Store ``alert``; False (and nothing stored) when its key is taken."""
        ...

    async def list(
        self, *, type: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The alerts, newest first."""
        ...


