"""``GET /admin/models/{alias}/card`` and ``POST /admin/models/{alias}/baseline``."""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from sluicegate.admin.http import gateway_of, json_answer, read_query
from sluicegate.admin.observability_schemas import BaselineReset, CardQuery
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.cards import card_markdown, model_card
from sluicegate.gateway import Gateway
from sluicegate.http_errors import JSON


def _alias(gateway: Gateway, request: web.Request) -> str:
    name = request.match_info["alias"]
    if name not in gateway.runtime.aliases:
        raise GatewayError(
            ErrorKind.NOT_FOUND, f"no model alias named {name!r}", code=ErrorCode.NOT_FOUND
        )
    return name


async def get_model_card(request: web.Request) -> web.Response:
    query = read_query(request, CardQuery)
    if query.since is not None and query.until is not None and query.until <= query.since:
        raise GatewayError.invalid("until must be later than since", param="until")
    gateway = gateway_of(request)
    alias = _alias(gateway, request)
    await gateway.ledger.aflush()
    card = await model_card(
        gateway.storage.behaviour,
        alias,
        [t.label for t in gateway.runtime.aliases[alias].targets],
        gateway.config.observability.drift,
        since=query.since,
        until=query.until,
    )
    if query.format == "markdown":
        return web.Response(text=card_markdown(card), content_type="text/markdown")
    return web.Response(body=orjson.dumps(card), content_type=JSON)


async def reset_baseline(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    alias = _alias(gateway, request)
    since = time.time()
    await gateway.storage.behaviour.set_baseline_since(alias, since)
    return json_answer(BaselineReset(alias=alias, since=since))
