"""The admin API under /admin, driven over HTTP the way an operator's script would."""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient

from sluicegate.admin.routes import OPERATIONS
from sluicegate.admin.schemas import parse_instant
from sluicegate.gateway import GATEWAY, Gateway
from sluicegate.state.directory import config_tenant_id

Client = TestClient[web.Request, web.Application]

# The values the fixtures in conftest.py configure.
ADMIN = {"Authorization": "Bearer admin-secret"}
ACME_KEY = "sk-acme-config-key"

HI = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


async def chat(
    client: Client, key: str, *, model: str = "echo", tags: str | None = None
) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    if tags is not None:
        headers["x-sluicegate-tags"] = tags
    resp = await client.post("/v1/chat/completions", json={**HI, "model": model}, headers=headers)
    await resp.read()
    return resp.status


async def call(
    client: Client,
    method: str,
    path: str,
    *,
    json: Any = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Any:
    """One admin call: asserts the status and the JSON content type, returns the body."""
    resp = await client.request(
        method, path, json=json, headers=ADMIN if headers is None else headers, **kwargs
    )
    body = await resp.json()
    assert resp.status == status, body
    assert resp.content_type == "application/json"
    return body


async def create_key(client: Client, tenant: str = "acme", name: str = "bot") -> dict[str, Any]:
    created: dict[str, Any] = await call(
        client, "POST", f"/admin/tenants/{tenant}/keys", json={"name": name}, status=201
    )
    return created


def assert_error(body: dict[str, Any], *, code: str | None = None, param: str | None = None,
                 says: str = "") -> None:
    error = body["error"]
    assert set(error) == {"message", "type", "code", "param"}
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    assert says in error["message"]


def gateway_of(client: Client) -> Gateway:
    assert client.app is not None
    return client.app[GATEWAY]


# -- authentication -----------------------------------------------------------


def _concrete(path: str) -> str:
    return (
        path.replace("{name}", "acme")
        .replace("{id}", "key_missing")
        .replace("{prompt}", "support")
        .replace("{version}", "1")
        .replace("{label}", "production")
        .replace("{alias}", "echo")
    )


def _every_route() -> Iterator[tuple[str, str]]:
    for op in OPERATIONS:
        yield op.method, _concrete(op.path)


@pytest.mark.parametrize(("method", "path"), list(_every_route()))
async def test_every_admin_route_needs_the_admin_key(
    client: Client, method: str, path: str
) -> None:
    for headers, code in [
        ({}, "missing_admin_key"),
        ({"Authorization": "Bearer wrong"}, "invalid_admin_key"),
        ({"x-api-key": "admin-secre"}, "invalid_admin_key"),
        ({"Authorization": f"Bearer {ACME_KEY}"}, "invalid_admin_key"),  # a tenant's key
    ]:
        body = await call(client, method, path, headers=headers, status=401)
        assert_error(body, code=code)
        assert body["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    "headers", [{"Authorization": "Bearer admin-secret"}, {"x-api-key": "admin-secret"}]
)
async def test_admin_key_in_either_header(client: Client, headers: dict[str, str]) -> None:
    body = await call(client, "GET", "/admin/tenants", headers=headers)
    assert [t["name"] for t in body["data"]] == ["acme"]


async def test_admin_api_is_disabled_without_an_admin_key(
    start_admin_gateway: Any, config_dict: dict[str, Any]
) -> None:
    client = await start_admin_gateway({**config_dict, "server": {}})
    for headers in (ADMIN, {}):
        body = await call(client, "GET", "/admin/tenants", headers=headers, status=401)
        assert_error(body, code="admin_api_disabled", says="server.admin_key")


# -- tenants ------------------------------------------------------------------

UNLIMITED = {"rpm": None, "tpm": None, "max_concurrency": None, "budget_usd": None,
             "budget_period": "month", "budget_alert_at": None, "shadow": False,
             "weight": 1.0, "priority": "interactive", "keys": {}, "models": {}}


async def test_tenant_lifecycle(client: Client) -> None:
    listed = await call(client, "GET", "/admin/tenants")
    assert listed == {
        "data": [
            {
                "id": config_tenant_id("acme"),
                "name": "acme",
                "models": None,
                "limits": {**UNLIMITED, "rpm": 600},
                "source": "config",
                "prompt_layer": None,
            }
        ]
    }

    created = await call(
        client, "POST", "/admin/tenants",
        json={"name": "beta", "models": ["other", "echo"], "limits": {"tpm": 1000}},
        status=201,
    )
    assert created["name"] == "beta" and re.fullmatch(r"ten_[0-9a-f]{16}", created["id"])
    assert created["models"] == ["echo", "other"]
    assert created["limits"]["tpm"] == 1000
    assert created["source"] == "admin"
    assert await call(client, "GET", "/admin/tenants/beta") == created

    changed = await call(client, "PATCH", "/admin/tenants/beta", json={"models": ["echo"]})
    assert changed["models"] == ["echo"]
    assert changed["limits"]["tpm"] == 1000  # not given, so unchanged

    changed = await call(client, "PATCH", "/admin/tenants/beta",
                         json={"limits": {"rpm": 5, "budget_usd": 2.5, "budget_period": "day"}})
    assert changed["models"] == ["echo"]
    assert changed["limits"] == {**UNLIMITED, "tpm": 1000, "rpm": 5, "budget_usd": 2.5,
                                 "budget_period": "day"}

    changed = await call(client, "PATCH", "/admin/tenants/beta", json={"models": None})
    assert changed["models"] is None  # null: every alias again
    assert changed["id"] == created["id"], "a change keeps the tenant's id"

    names = [t["name"] for t in (await call(client, "GET", "/admin/tenants"))["data"]]
    assert names == ["acme", "beta"]

    assert await call(client, "DELETE", "/admin/tenants/beta") == {
        "name": "beta", "id": created["id"], "deleted": True
    }
    body = await call(client, "GET", "/admin/tenants/beta", status=404)
    assert_error(body, code="not_found", says="beta")


async def test_patching_limits_changes_only_what_is_given(client: Client) -> None:
    limits = {"rpm": 10, "budget_usd": 20.0, "budget_alert_at": 0.8,
              "keys": {"ci": {"rpm": 2, "budget_usd": 1.0}, "bot": {"priority": "batch"}},
              "models": {"echo": {"tpm": 500}}}
    await call(client, "POST", "/admin/tenants", json={"name": "beta", "limits": limits},
               status=201)

    async def patch(body: dict[str, Any]) -> dict[str, Any]:
        answer = await call(client, "PATCH", "/admin/tenants/beta", json={"limits": body})
        limits: dict[str, Any] = answer["limits"]
        return limits

    after = await patch({"rpm": 4})
    assert (after["rpm"], after["budget_usd"], after["budget_alert_at"]) == (4, 20.0, 0.8)
    assert after["keys"]["ci"]["budget_usd"] == 1.0 and after["models"]["echo"]["tpm"] == 500

    after = await patch({"budget_usd": None})  # null clears the one limit
    assert (after["rpm"], after["budget_usd"], after["budget_alert_at"]) == (4, None, 0.8)

    # Entries merge per key name and field; one left at its defaults goes away.
    after = await patch({"keys": {"ci": {"rpm": 3}, "bot": {"priority": None},
                                  "new": {"tpm": 7}}})
    assert (after["keys"]["ci"]["rpm"], after["keys"]["ci"]["budget_usd"]) == (3, 1.0)
    assert set(after["keys"]) == {"ci", "new"}
    after = await patch({"models": {"echo": {"tpm": None}, "other": {"rpm": 1}}})
    assert set(after["models"]) == {"other"}
    assert after["rpm"] == 4, "the tenant's own limits are untouched by entry changes"

    # The merged result is validated as a whole.
    error = await call(client, "PATCH", "/admin/tenants/beta",
                       json={"limits": {"keys": {"ci": {"rpm": -1}}}}, status=400)
    assert_error(error, param="limits.keys.ci.rpm")
    assert (await call(client, "GET", "/admin/tenants/beta"))["limits"] == after


async def test_a_tenants_allowed_models_apply_to_its_keys_at_once(client: Client) -> None:
    await call(client, "POST", "/admin/tenants", json={"name": "beta", "models": ["echo"]},
               status=201)
    key = (await create_key(client, "beta"))["key"]
    assert await chat(client, key, model="echo") == 200
    assert await chat(client, key, model="other") == 403

    await call(client, "PATCH", "/admin/tenants/beta", json={"models": ["other"]})
    assert await chat(client, key, model="other") == 200
    assert await chat(client, key, model="echo") == 403


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"name": "beta", "models": ["echo", "nope", "gone"]}, "models",
         "unknown model aliases: gone, nope"),
        ({"name": "beta", "colour": "red"}, "colour", "unknown field 'colour'"),
        ({"name": "beta", "limits": {"rpm": -1}}, "limits.rpm", "'limits.rpm'"),
        ({"name": "beta", "limits": {"rph": 1}}, "limits.rph", "unknown field 'limits.rph'"),
        ({"name": "beta", "limits": {"budget_period": "year"}}, "limits.budget_period", "year"),
        ({"name": "beta", "models": "echo"}, "models", "'models'"),
        ({"name": ""}, "name", "'name'"),
        ({"name": "has space"}, "name", "'name'"),
        ({"models": ["echo"]}, "name", "'name'"),
    ],
)
async def test_create_tenant_rejects_invalid_bodies(
    client: Client, body: dict[str, Any], param: str, says: str
) -> None:
    error = await call(client, "POST", "/admin/tenants", json=body, status=400)
    assert_error(error, param=param, says=says)
    assert error["error"]["type"] == "invalid_request_error"
    assert await call(client, "GET", "/admin/tenants/beta", status=404)


@pytest.mark.parametrize(("raw", "says"), [(b"", "JSON object"), (b"{nope", "not valid JSON"),
                                           (b"[1, 2]", "JSON object")])
async def test_bodies_that_are_not_json_objects(client: Client, raw: bytes, says: str) -> None:
    error = await call(client, "POST", "/admin/tenants", data=raw,
                       headers={**ADMIN, "Content-Type": "application/json"}, status=400)
    assert_error(error, code="invalid_json", says=says)


async def test_tenant_conflicts_and_unknown_names(client: Client) -> None:
    await call(client, "POST", "/admin/tenants", json={"name": "beta"}, status=201)
    for name in ("beta", "acme"):
        error = await call(client, "POST", "/admin/tenants", json={"name": name}, status=409)
        assert_error(error, says="already exists")

    # Tenants from the config file are changed there, not here.
    error = await call(client, "PATCH", "/admin/tenants/acme", json={"models": ["echo"]},
                       status=409)
    assert_error(error, code="config_tenant", says="defined in the config file; change it there")
    error = await call(client, "DELETE", "/admin/tenants/acme", status=409)
    assert_error(error, code="config_tenant", says="defined in the config file; remove it there")
    assert (await call(client, "GET", "/admin/tenants/acme"))["models"] is None

    for method in ("GET", "PATCH", "DELETE"):
        error = await call(client, method, "/admin/tenants/nobody", json={}, status=404)
        assert_error(error, code="not_found", says="nobody")

    error = await call(client, "PATCH", "/admin/tenants/beta", json={"models": ["nope"]},
                       status=400)
    assert_error(error, param="models", says="nope")
    error = await call(client, "PATCH", "/admin/tenants/beta", json={"name": "gamma"},
                       status=400)
    assert_error(error, param="name", says="unknown field")


async def test_deleting_a_tenant_removes_its_keys(client: Client) -> None:
    await call(client, "POST", "/admin/tenants", json={"name": "beta"}, status=201)
    key = await create_key(client, "beta")
    assert await chat(client, key["key"]) == 200

    await call(client, "DELETE", "/admin/tenants/beta")
    assert await chat(client, key["key"]) == 401
    all_keys = (await call(client, "GET", "/admin/keys"))["data"]
    assert key["id"] not in [k["id"] for k in all_keys]
    await call(client, "GET", "/admin/tenants/beta/keys", status=404)


# -- keys ---------------------------------------------------------------------


async def test_a_created_key_is_shown_once_and_stored_only_as_a_hash(
    client: Client, db_path: Path
) -> None:
    created = await create_key(client, "acme", "bot")
    plaintext = created.pop("key")
    assert plaintext.startswith("sk-sg-") and len(plaintext) > 30
    assert re.fullmatch(r"key_[0-9a-f]+", created["id"])
    assert created["name"] == "bot"
    assert created["tenant"] == "acme"
    assert created["source"] == "admin"
    assert plaintext.startswith(created["prefix"]) and len(created["prefix"]) < 16
    assert created["revoked_at"] is None
    assert abs(created["created_at"] - datetime.now(UTC).timestamp()) < 60

    # The key works at once...
    assert await chat(client, plaintext) == 200

    # ...and no listing ever shows it again.
    for path in ("/admin/keys", "/admin/tenants/acme/keys"):
        listing = (await call(client, "GET", path))["data"]
        assert created in listing
        assert all("key" not in k for k in listing)
        assert plaintext not in str(listing)

    # The database holds its SHA-256 hash and a short prefix, never the key.
    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT * FROM api_keys").fetchall()
        hashes = [r[0] for r in conn.execute("SELECT key_hash FROM api_keys WHERE id = ?",
                                             (created["id"],))]
    assert plaintext not in str(rows)
    assert hashes == [hashlib.sha256(plaintext.encode()).hexdigest()]


async def test_key_listings(client: Client) -> None:
    await call(client, "POST", "/admin/tenants", json={"name": "beta"}, status=201)
    await create_key(client, "beta", "one")
    await create_key(client, "acme", "two")

    everything = (await call(client, "GET", "/admin/keys"))["data"]
    assert [(k["tenant"], k["name"], k["source"]) for k in everything] == [
        ("acme", "ci", "config"), ("acme", "two", "admin"), ("beta", "one", "admin"),
    ]
    acme = (await call(client, "GET", "/admin/tenants/acme/keys"))["data"]
    assert [k["name"] for k in acme] == ["ci", "two"]
    # A config key's prefix is its own first characters.
    assert ACME_KEY.startswith(acme[0]["prefix"])


async def test_key_creation_errors(client: Client) -> None:
    await create_key(client, "acme", "bot")
    error = await call(client, "POST", "/admin/tenants/acme/keys", json={"name": "bot"},
                       status=409)
    assert_error(error, code="conflict", says="already has a key named 'bot'")
    error = await call(client, "POST", "/admin/tenants/nobody/keys", json={"name": "x"},
                       status=404)
    assert_error(error, code="not_found", says="nobody")
    for body, param in [({}, "name"), ({"name": "x", "tenant": "acme"}, "tenant"),
                        ({"name": "a/b"}, "name")]:
        error = await call(client, "POST", "/admin/tenants/acme/keys", json=body, status=400)
        assert_error(error, param=param)


@pytest.mark.parametrize(("method", "suffix"), [("POST", "/revoke"), ("DELETE", "")])
async def test_a_revoked_key_stops_working_at_once(
    client: Client, method: str, suffix: str
) -> None:
    created = await create_key(client)
    assert await chat(client, created["key"]) == 200

    revoked = await call(client, method, f"/admin/keys/{created['id']}{suffix}")
    assert "key" not in revoked
    assert revoked["id"] == created["id"]
    assert revoked["revoked_at"] is not None
    assert revoked["revoked_at"] >= created["created_at"]

    assert await chat(client, created["key"]) == 401
    assert await chat(client, ACME_KEY) == 200  # the tenant's other keys are untouched

    # Revoking again changes nothing; the key stays listed, marked revoked.
    assert await call(client, method, f"/admin/keys/{created['id']}{suffix}") == revoked
    listed = (await call(client, "GET", "/admin/tenants/acme/keys"))["data"]
    assert revoked in listed


async def test_a_config_key_can_be_revoked(client: Client) -> None:
    ci = (await call(client, "GET", "/admin/tenants/acme/keys"))["data"][0]
    assert await chat(client, ACME_KEY) == 200
    await call(client, "POST", f"/admin/keys/{ci['id']}/revoke")
    assert await chat(client, ACME_KEY) == 401


@pytest.mark.parametrize(("method", "suffix"), [("POST", "/revoke"), ("DELETE", "")])
async def test_revoking_an_unknown_key(client: Client, method: str, suffix: str) -> None:
    error = await call(client, method, f"/admin/keys/key_0000{suffix}", status=404)
    assert_error(error, code="not_found", says="key_0000")


# -- usage and requests -------------------------------------------------------


async def _traffic(client: Client) -> None:
    """Five chat calls: acme/ci x3 (one tagged a,b; one on 'other'), beta/bot x2 (tagged b)."""
    await call(client, "POST", "/admin/tenants", json={"name": "beta"}, status=201)
    beta_key = (await create_key(client, "beta", "bot"))["key"]
    assert await chat(client, ACME_KEY, tags="a,b") == 200
    assert await chat(client, ACME_KEY) == 200
    assert await chat(client, ACME_KEY, model="other") == 200
    assert await chat(client, beta_key, tags="b") == 200
    assert await chat(client, beta_key, tags=" b ,") == 200


def _counts(usage: dict[str, Any]) -> dict[Any, int]:
    return {g["key"]: g["requests"] for g in usage["groups"]}


async def test_usage_totals_and_groups(client: Client) -> None:
    day_before = datetime.now(UTC).date().isoformat()
    await _traffic(client)
    day_after = datetime.now(UTC).date().isoformat()

    usage = await call(client, "GET", "/admin/usage")
    assert set(usage) == {"totals", "groups"}
    assert usage["groups"] == []
    totals = usage["totals"]
    assert totals["requests"] == 5
    assert totals["errors"] == 0
    assert totals["input_tokens"] > 0 and totals["output_tokens"] > 0
    # Only the 'echo' alias is priced: input 1.0 and output 2.0 per million tokens.
    assert totals["cost_usd"] > 0
    assert set(totals) >= {"requests", "input_tokens", "output_tokens", "cost_usd"}

    expected = {
        "tenant": {"acme": 3, "beta": 2},
        "key": {"ci": 3, "bot": 2},
        "alias": {"echo": 4, "other": 1},
        "tag": {"a": 1, "b": 3},
        "target": {"echo/echo-1": 4, "echo/echo-2": 1},
    }
    for group_by, counts in expected.items():
        usage = await call(client, "GET", "/admin/usage", params={"group_by": group_by})
        assert _counts(usage) == counts, group_by
        for group in usage["groups"]:
            by_tenant = {"tenant_id"} if group_by == "tenant" else set()
            assert set(group) == {"key", *by_tenant, *usage["totals"]}

    usage = await call(client, "GET", "/admin/usage", params={"group_by": "day"})
    days = _counts(usage)
    assert sum(days.values()) == 5 and set(days) <= {day_before, day_after}

    usage = await call(client, "GET", "/admin/usage",
                       params={"tenant": "beta", "group_by": "alias"})
    assert usage["totals"]["requests"] == 2
    assert _counts(usage) == {"echo": 2}


async def test_usage_answers_exactly_what_the_ledger_does(client: Client) -> None:
    await _traffic(client)
    usage = await call(client, "GET", "/admin/usage",
                       params={"tenant": "acme", "group_by": "key", "since": "2020-01-01"})
    ledger = gateway_of(client).ledger
    expected = ledger.usage(tenant="acme", group_by="key", since=parse_instant("2020-01-01"))
    assert usage == expected


async def test_usage_time_window(client: Client) -> None:
    await _traffic(client)
    now = datetime.now(UTC)
    year = now.year
    windows = [
        ({"since": f"{year - 1}-01-01"}, 5),
        ({"since": f"{year + 1}-01-01"}, 0),
        ({"until": f"{year - 1}-01-01T00:00:00Z"}, 0),
        ({"until": f"{year + 1}-01-01T00:00:00"}, 5),  # naive: UTC
        ({"since": f"{year - 1}-06-01T00:00:00+02:00", "until": f"{year + 1}-01-01"}, 5),
        ({"since": f"{year - 1}-06-01", "until": f"{year - 1}-06-01"}, 0),  # empty window
    ]
    for params, requests in windows:
        usage = await call(client, "GET", "/admin/usage", params=params)
        assert usage["totals"]["requests"] == requests, params


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"since": ""}, "since"),
        ({"group_by": "model"}, "group_by"),
        ({"tenantt": "acme"}, "tenantt"),
        ({"since": "2026-11-02", "until": "2026-11-01"}, "until"),
    ],
)
async def test_usage_rejects_invalid_parameters(
    client: Client, params: dict[str, str], param: str
) -> None:
    error = await call(client, "GET", "/admin/usage", params=params, status=400)
    assert_error(error, param=param, says=param)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T12:30:00", datetime(2026, 11, 1, 12, 30, tzinfo=UTC)),
        ("2026-11-01T12:30:00Z", datetime(2026, 11, 1, 12, 30, tzinfo=UTC)),
        ("2026-11-01T14:30:00+02:00", datetime(2026, 11, 1, 12, 30, tzinfo=UTC)),
        ("2026-11-01 12:30:00.5", datetime(2026, 11, 1, 12, 30, 0, 500000, tzinfo=UTC)),
        ("1793491200", datetime(2026, 11, 1, tzinfo=UTC)),
        # RFC 3339 (format: date-time) allows lower case and a leap second.
        ("2026-11-01t12:30:00z", datetime(2026, 11, 1, 12, 30, tzinfo=UTC)),
        ("2026-12-31T23:59:60Z", datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_instants(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected.timestamp()


@pytest.mark.parametrize("text", ["", "soon", "2026-11-31", "01/11/2026", "2026-11-01T25:00"])
def test_not_instants(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(text)


async def test_recent_requests(client: Client) -> None:
    await _traffic(client)
    assert await chat(client, "sk-unknown") == 401

    records = (await call(client, "GET", "/admin/requests"))["data"]
    assert len(records) == 6
    assert [r["ts"] for r in records] == sorted((r["ts"] for r in records), reverse=True)
    assert records[0]["status"] == 401 and records[0]["tenant"] is None
    first = records[-1]
    assert first["tenant"] == "acme" and first["key_name"] == "ci"
    assert first["alias"] == "echo" and first["tags"] == ["a", "b"]
    assert first["stream"] is False and first["protocol"] == "openai"

    assert len((await call(client, "GET", "/admin/requests", params={"limit": "2"}))["data"]) == 2
    beta = (await call(client, "GET", "/admin/requests", params={"tenant": "beta"}))["data"]
    assert [r["tenant"] for r in beta] == ["beta", "beta"]


async def test_requests_through_an_alias_without_pricing_are_marked_unpriced(
    client: Client,
) -> None:
    await _traffic(client)  # one of the five is on 'other', which has no pricing

    records = (await call(client, "GET", "/admin/requests"))["data"]
    assert {(r["alias"], r["unpriced"]) for r in records} == {("echo", False), ("other", True)}
    unpriced = next(r for r in records if r["unpriced"])
    assert unpriced["cost_usd"] == 0.0 and unpriced["output_tokens"] > 0

    usage = await call(client, "GET", "/admin/usage", params={"group_by": "alias"})
    assert usage["totals"]["unpriced_requests"] == 1
    assert {g["key"]: g["unpriced_requests"] for g in usage["groups"]} == {"echo": 0, "other": 1}


@pytest.mark.parametrize("limit", ["0", "1001", "ten", "-5", "2.5"])
async def test_recent_requests_limit_is_checked(client: Client, limit: str) -> None:
    error = await call(client, "GET", "/admin/requests", params={"limit": limit}, status=400)
    assert_error(error, param="limit", says="limit")


# -- models and reload --------------------------------------------------------


async def test_models(client: Client) -> None:
    assert await call(client, "GET", "/admin/models") == {
        "data": [
            {
                "name": "echo",
                "targets": [{"provider": "echo", "model": "echo-1", "weight": 1.0}],
                "fallbacks": [],
                "pricing": {"input_per_mtok": 1.0, "output_per_mtok": 2.0,
                            "cached_input_per_mtok": None, "cache_write_per_mtok": None},
                "priced": True,
            },
            {
                "name": "other",
                "targets": [{"provider": "echo", "model": "echo-2", "weight": 2.0}],
                "fallbacks": ["echo"],
                "pricing": {"input_per_mtok": 0.0, "output_per_mtok": 0.0,
                            "cached_input_per_mtok": None, "cache_write_per_mtok": None},
                "priced": False,  # the config gives it no pricing
            },
        ]
    }


async def test_reload(client_with_file: tuple[Client, Path], config_dict: dict[str, Any]) -> None:
    client, path = client_with_file

    third = {"name": "third", "targets": [{"provider": "echo", "model": "echo-3"}]}
    path.write_text(yaml.safe_dump({**config_dict, "models": [*config_dict["models"], third]}))
    answer = await call(client, "POST", "/admin/reload")
    assert answer == {"status": "reloaded", "providers": 1, "models": 3, "tenants": 1,
                      "not_applied": [], "workers": 1}
    models = (await call(client, "GET", "/admin/models"))["data"]
    assert [m["name"] for m in models] == ["echo", "other", "third"]
    assert await chat(client, ACME_KEY, model="third") == 200

    # A bad file is refused with its problem, and the running config stays in use.
    path.write_text(yaml.safe_dump({**config_dict, "models": [{"name": "broken", "targets": []}]}))
    error = await call(client, "POST", "/admin/reload", status=400)
    assert_error(error, code="invalid_config", says="models[0].targets")
    assert str(path) in error["error"]["message"]
    assert [m["name"] for m in (await call(client, "GET", "/admin/models"))["data"]] == [
        "echo", "other", "third"
    ]
    assert await chat(client, ACME_KEY, model="third") == 200


async def test_a_reload_can_change_the_admin_key(
    client_with_file: tuple[Client, Path], config_dict: dict[str, Any]
) -> None:
    client, path = client_with_file
    path.write_text(yaml.safe_dump({**config_dict, "server": {"admin_key": "rotated"}}))
    await call(client, "POST", "/admin/reload")
    await call(client, "GET", "/admin/tenants", status=401)
    await call(client, "GET", "/admin/tenants", headers={"x-api-key": "rotated"})


async def test_reload_without_a_config_file(client: Client) -> None:
    error = await call(client, "POST", "/admin/reload", status=409)
    assert_error(error, code="no_config_file", says="without a config file")


async def test_an_unexpected_failure_is_a_json_500(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(**_: Any) -> dict[str, Any]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(gateway_of(client).ledger, "ausage", broken)
    error = await call(client, "GET", "/admin/usage", status=500)
    assert_error(error, code="internal_error")
    assert "disk" not in error["error"]["message"]  # details go to the log, not the client


# -- the OpenAPI document -----------------------------------------------------


async def test_openapi_document_lists_every_admin_route(client: Client) -> None:
    resp = await client.get("/admin/openapi.json", headers=ADMIN)
    assert resp.status == 200
    assert resp.content_type == "application/json"
    doc = await resp.json()

    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    app = client.app
    assert app is not None
    served = {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/admin")
        and r.method != "HEAD"
    }
    assert documented == served
    # 16 + cache invalidate and report + usage forecast + 7 prompts + alerts, sessions,
    # model card and baseline + the dataset export
    assert len(served) == 31

    operation_ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))

    # Every reference resolves inside the document.
    text = await resp.text()
    refs = set(re.findall(r'"\$ref":\s*"([^"]+)"', text))
    assert refs
    for ref in refs:
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), ref
    assert "$defs" not in text


async def test_openapi_document_describes_bodies_and_parameters(client: Client) -> None:
    doc = await call(client, "GET", "/admin/openapi.json")
    schemas = doc["components"]["schemas"]

    create = doc["paths"]["/admin/tenants"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/TenantCreate"
    assert schemas["TenantCreate"]["required"] == ["name"]
    assert schemas["TenantCreate"]["additionalProperties"] is False
    assert set(create["responses"]) == {"201", "400", "401", "409", "422", "500"}

    patch = doc["paths"]["/admin/tenants/{name}"]["patch"]
    assert "a field left out keeps it" in patch["description"]
    assert "null clears a limit" in schemas["TenantUpdate"]["properties"]["limits"]["description"]

    key = doc["paths"]["/admin/tenants/{name}/keys"]["post"]["responses"]["201"]
    created = key["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "key" in schemas[created]["properties"]
    listed = schemas["KeyOut"]["properties"]
    assert "key" not in listed

    usage = doc["paths"]["/admin/usage"]["get"]
    params = {p["name"]: p for p in usage["parameters"]}
    assert set(params) == {"tenant", "tenant_id", "since", "until", "group_by", "key", "format"}
    assert "has this name now" in params["tenant"]["description"]
    assert "deleted tenant's history" in params["tenant_id"]["description"]
    assert all(p["in"] == "query" and p["required"] is False for p in params.values())
    assert params["group_by"]["schema"]["enum"] == ["tenant", "key", "alias", "target", "tag",
                                                    "day", "prompt"]
    assert [b.get("format", b["type"]) for b in params["since"]["schema"]["anyOf"]] == [
        "date", "date-time", "number"
    ]
    success = usage["responses"]["200"]["content"]
    assert set(success) == {"application/json", "text/csv"}  # format=csv

    invalidate = schemas["CacheInvalidate"]
    assert len(invalidate["anyOf"]) == 6, "at least one selector, as the handler requires"
    assert [n["required"] for n in invalidate["not"]["anyOf"]] == [
        ["tenant", "tenant_id"], ["tenant", "shared"], ["tenant_id", "shared"]
    ], "at most one scope"

    path_param = doc["paths"]["/admin/keys/{id}"]["delete"]["parameters"][0]
    assert path_param == {"name": "id", "in": "path", "required": True,
                          "schema": {"type": "string"}, "description": path_param["description"]}
    assert doc["components"]["securitySchemes"]["adminBearer"]["scheme"] == "bearer"
    unauthorized = doc["components"]["responses"]["Unauthorized"]
    assert unauthorized["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/ErrorBody"
    )


# -- strict bodies and methods ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "param"),
    [
        ("POST", "/admin/cache/invalidate", {"all": "yes"}, "all"),
        ("POST", "/admin/cache/invalidate", {"all": 1}, "all"),
        ("POST", "/admin/cache/invalidate", {"shared": "true", "alias": "echo"}, "shared"),
        ("POST", "/admin/cache/invalidate", {"alias": 5}, "alias"),
        ("POST", "/admin/cache/invalidate", {"all": True, "everything": True}, "everything"),
        ("POST", "/admin/tenants", {"name": "beta", "limits": {"rpm": "5"}}, "limits.rpm"),
        ("POST", "/admin/tenants", {"name": "beta", "limits": {"shadow": "no"}},
         "limits.shadow"),
        ("POST", "/admin/tenants", {"name": 7}, "name"),
        ("POST", "/admin/tenants", {"name": "beta", "models": [1]}, "models.0"),
        ("PATCH", "/admin/tenants/beta", {"limits": {"budget_usd": "10"}}, "limits.budget_usd"),
        ("PATCH", "/admin/tenants/beta", {"limits": {"keys": {"ci": {"rpm": True}}}},
         "limits.keys.ci.rpm"),
        ("POST", "/admin/tenants/beta/keys", {"name": ["k"]}, "name"),
        # Too large to count exactly; stored, it made every tenant listing a 500.
        ("PATCH", "/admin/tenants/beta", {"limits": {"tpm": 2**64}}, "limits.tpm"),
    ],
)
async def test_bodies_are_validated_strictly_naming_the_field(
    client: Client, method: str, path: str, body: dict[str, Any], param: str
) -> None:
    await call(client, "POST", "/admin/tenants", json={"name": "beta"}, status=201)
    before = await call(client, "GET", "/admin/tenants/beta")
    error = await call(client, method, path, json=body, status=400)
    assert_error(error, param=param, says=repr(param))
    assert await call(client, "GET", "/admin/tenants/beta") == before


async def test_a_whole_number_written_as_a_float_is_an_integer_as_json_schema_says(
    client: Client,
) -> None:
    created = await call(client, "POST", "/admin/tenants", status=201,
                         json={"name": "beta", "limits": {"rpm": 30.0, "weight": 2}})
    assert (created["limits"]["rpm"], created["limits"]["weight"]) == (30, 2.0)
    error = await call(client, "PATCH", "/admin/tenants/beta",
                       json={"limits": {"rpm": 30.5}}, status=400)
    assert_error(error, param="limits.rpm", says="integer")


async def test_a_cache_invalidation_that_is_refused_removes_nothing(client: Client) -> None:
    resp = await client.post("/v1/chat/completions", json={**HI, "temperature": 0},
                             headers={"Authorization": f"Bearer {ACME_KEY}"})
    assert resp.status == 200 and resp.headers["x-sluicegate-cache"] == "miss"  # now stored
    await call(client, "POST", "/admin/cache/invalidate", json={"all": "yes"}, status=400)
    answer = await call(client, "POST", "/admin/cache/invalidate", json={"all": True})
    assert answer == {"invalidated": 1}, "the entry was still there"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/admin/tenants", "GET, POST"),
        ("POST", "/admin/tenants/acme", "DELETE, GET, PATCH"),
        ("GET", "/admin/cache/invalidate", "POST"),
        ("PATCH", "/admin/keys/key_x", "DELETE"),
    ],
)
async def test_a_wrong_method_is_a_405_naming_the_allowed_ones(
    client: Client, method: str, path: str, allow: str
) -> None:
    resp = await client.request(method, path, headers=ADMIN)
    assert resp.status == 405
    assert resp.headers["Allow"] == allow
    assert_error(await resp.json(), code="method_not_allowed")


async def test_a_reloaded_body_limit_is_the_one_enforced_and_quoted(
    client_with_file: tuple[Client, Path], config_dict: dict[str, Any]
) -> None:
    client, path = client_with_file
    padding = "x" * 1_500_000  # under the start-up limit (8 MiB), over the reloaded one
    path.write_text(yaml.safe_dump({**config_dict, "server": {
        **config_dict.get("server", {}), "max_body_bytes": 1_000_000}}))
    await call(client, "POST", "/admin/reload")

    async def chunks() -> AsyncIterator[bytes]:  # chunked: no Content-Length to check first
        yield b'{"model": "echo", "messages": [{"role": "user", "content": "'
        yield padding.encode()
        yield b'"}]}'

    resp = await client.post("/v1/chat/completions", data=chunks(),
                             headers={"Authorization": f"Bearer {ACME_KEY}"})
    assert resp.status == 413
    assert "1000000 bytes" in (await resp.json())["error"]["message"]


async def test_a_reload_says_which_restart_only_settings_wait_for_the_next_start(
    client_with_file: tuple[Client, Path], config_dict: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, path = client_with_file
    server = {**config_dict.get("server", {}), "port": 9999, "max_body_bytes": 5000}
    path.write_text(yaml.safe_dump({**config_dict, "server": server,
                                    "storage": {"url": "sqlite:///elsewhere.db"}}))
    with caplog.at_level(logging.INFO, logger="sluicegate"):
        answer = await call(client, "POST", "/admin/reload")
    assert answer["not_applied"] == ["server.port", "storage"]
    assert any("not applied until restart: server.port, storage" in m for m in caplog.messages)
