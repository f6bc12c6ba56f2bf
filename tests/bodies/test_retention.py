"""storage.bodies_retention_days: older bodies go at each storage upkeep, both backends."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from bodies.helpers import ACME_KEY, gateway_of, rows
from fakes.stack import gateway_url, openai_client

Start = Callable[..., Awaitable[Any]]


async def test_bodies_older_than_the_retention_are_deleted(start: Start) -> None:
    client = await start("full", bodies_retention_days=7)
    oai = openai_client(gateway_url(client), ACME_KEY)
    for request_id in ("old", "new"):
        await oai.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": request_id}],
            extra_headers={"x-request-id": request_id},
        )
    eight_days_ago = time.time() - 8 * 86400
    await rows(
        client,
        "UPDATE bodies SET ts = {} WHERE id = (SELECT id FROM ledger WHERE request_id = {})",
        eight_days_ago, "old",
    )
    await gateway_of(client).storage.upkeep()  # what the gateway runs hourly
    left = await rows(
        client, "SELECT l.request_id FROM bodies b JOIN ledger l ON l.id = b.id"
    )
    assert left == [("new",)]
    # The ledger rows stay: retention is of bodies only.
    assert len(await rows(client, "SELECT id FROM ledger")) == 2


async def test_without_retention_bodies_stay(start: Start) -> None:
    client = await start("full")
    oai = openai_client(gateway_url(client), ACME_KEY)
    await oai.chat.completions.create(model="echo", messages=[{"role": "user", "content": "x"}])
    await rows(client, "UPDATE bodies SET ts = {}", 0.0)
    await gateway_of(client).storage.upkeep()
    assert await rows(client, "SELECT COUNT(*) FROM bodies") == [(1,)]
