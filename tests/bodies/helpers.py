"""What the bodies tests share: a gateway per storage backend, and feedback rows written
straight into the feedback table (POST /v1/feedback is built elsewhere; tests only)."""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import orjson

from sluicegate.datasets import database_of
from sluicegate.gateway import GATEWAY, Gateway

ADMIN = {"Authorization": "Bearer admin-secret"}
ACME_KEY = "sk-acme-bodies"
GLOBEX_KEY = "sk-globex-bodies"


def config(url: str, bodies: str, **storage: Any) -> dict[str, Any]:
    return {
        "server": {"admin_key": "admin-secret"},
        "storage": {"url": url, "bodies": bodies, **storage},
        "providers": [{"name": "echo", "type": "echo"}],
        "models": [
            {"name": "echo", "targets": [{"provider": "echo", "model": "echo-1"}]},
            {"name": "embed", "targets": [{"provider": "echo", "model": "echo-embed"}]},
        ],
        "tenants": [
            {"name": "acme", "keys": [{"name": "ci", "key": ACME_KEY}]},
            {"name": "globex", "keys": [{"name": "ci", "key": GLOBEX_KEY}]},
        ],
    }


async def empty_postgres(url: str) -> None:
    """The shared test database without the tables the conftest fixture leaves."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("TRUNCATE bodies, feedback")
    finally:
        await conn.close()


def gateway_of(client: Any) -> Gateway:
    return client.app[GATEWAY]  # type: ignore[no-any-return]


async def rows(client: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """``sql`` (``{}`` for each parameter) on the gateway's own database, after a flush."""
    gateway = gateway_of(client)
    await gateway.ledger.aflush()
    return await database_of(gateway.storage).fetch(sql, params)


async def body_of(client: Any, request_id: str) -> dict[str, Any]:
    found = await rows(
        client,
        "SELECT b.mode, b.request, b.answer, b.tenant_id FROM bodies b"
        " JOIN ledger l ON l.id = b.id WHERE l.request_id = {}",
        request_id,
    )
    assert len(found) == 1, found
    mode, request, answer, tenant_id = found[0]
    return {
        "mode": mode,
        "request": orjson.loads(request),
        "answer": None if answer is None else orjson.loads(answer),
        "tenant_id": tenant_id,
    }


async def add_feedback(
    client: Any,
    request_id: str,
    name: str,
    score: float | None,
    *,
    correction: str | None = None,
    value: Any = None,
) -> None:
    """A feedback row as POST /v1/feedback will write it (see migration 10 / 8)."""
    ledger_id, tenant_id, alias, session = (
        await rows(
            client,
            "SELECT id, tenant_id, alias, session FROM ledger WHERE request_id = {}",
            request_id,
        )
    )[0]
    feedback_id = f"fb-{request_id}-{name}-{time.monotonic_ns()}"
    value_json = orjson.dumps(score if value is None else value).decode()
    await rows(
        client,
        "INSERT INTO feedback (tenant_id, id, ledger_id, request_id, alias, session, name,"
        " value, score, comment, correction, ts) VALUES ({}, {}, {}, {}, {}, {}, {}, "
        + ("{}::jsonb" if gateway_of(client).storage.kind == "postgresql" else "{}")
        + ", {}, {}, {}, {})",
        tenant_id, feedback_id, ledger_id, request_id, alias, session, name, value_json,
        score, None, correction, time.time(),
    )
