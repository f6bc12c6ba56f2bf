"""``POST /v1/feedback``: a tenant's rating of one of its own answers.

The request it is about is found in the ledger by its ``x-request-id`` or its
answer's ``id``, among the tenant's own records only: another tenant's request
is as unknown as one that never was (404 ``request_not_found``), and so is one
the ledger no longer keeps (retention). A record is in the ledger within the
shipping interval of the replica that served it, so a miss is asked again
briefly before it is called unknown. The same ``id`` again answers 200 with
what was stored the first time, and stores nothing twice.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from aiohttp import web
from pydantic import ValidationError

from sluicegate.auth.authenticate import key_holder
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.feedback.body import FeedbackBody
from sluicegate.gateway import GATEWAY, Gateway
from sluicegate.http_errors import JSON, error_response, json_object
from sluicegate.protocols.wire import ANTHROPIC, OPENAI
from sluicegate.state.behaviour_store import Feedback, RequestRef
from sluicegate.state.directory import Tenant

MAX_BODY_BYTES = 512 * 1024
# How long a request not (yet) in the ledger is looked for: past the shipping
# interval of any replica (0.2 s), so that feedback sent the moment an answer
# ends, to another replica, still finds it.
FIND_FOR_S = 1.0
FIND_EVERY_S = 0.2


async def post_feedback(http: web.Request) -> web.Response:
    wire = ANTHROPIC if "anthropic-version" in http.headers else OPENAI
    try:
        gateway: Gateway = http.app[GATEWAY]
        _, tenant = key_holder(gateway.directory, http.headers)
        body = await _body(http)
        try:
            value = body.checked_value()
        except ValueError as exc:
            raise GatewayError.invalid(str(exc), param="value") from exc
        if body.id is not None:
            stored = await gateway.storage.behaviour.feedback(tenant.id, body.id)
            if stored is not None:
                return _answer(stored, 200)
        found = await _find(gateway, tenant, body.request_id)
        feedback = Feedback(
            tenant_id=tenant.id,
            id=body.id or "fb_" + gateway.new_id(),
            ledger_id=found.ledger_id,
            request_id=found.request_id,
            alias=found.alias,
            session=found.session,
            name=body.name,
            value=value,
            comment=body.comment,
            correction=body.correction,
            ts=time.time(),
        )
        added = await gateway.storage.behaviour.add_feedback(feedback)
        if added is None:  # the same id, sent twice at once: the first one stands
            stored = await gateway.storage.behaviour.feedback(tenant.id, feedback.id)
            assert stored is not None
            return _answer(stored, 200)
        if gateway.tracing is not None:  # a gen_ai.evaluation.result event
            gateway.tracing.evaluation(
                found.request_id, body.name, value, body.comment, response_id=found.response_id
            )
        return _answer(added, 201)
    except GatewayError as err:
        return error_response(wire, err)


async def _body(http: web.Request) -> FeedbackBody:
    if http.content_length is not None and http.content_length > MAX_BODY_BYTES:
        raise GatewayError(
            ErrorKind.TOO_LARGE,
            f"a feedback body is at most {MAX_BODY_BYTES} bytes",
            code=ErrorCode.REQUEST_TOO_LARGE,
        )
    raw = await http.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise GatewayError(
            ErrorKind.TOO_LARGE,
            f"a feedback body is at most {MAX_BODY_BYTES} bytes",
            code=ErrorCode.REQUEST_TOO_LARGE,
        )
    data = json_object(raw)
    try:
        return FeedbackBody.model_validate(data, strict=True)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in error["loc"][:1]) or None
        message = (
            f"unknown field {field!r}"
            if error["type"] == "extra_forbidden"
            else f"invalid {field!r}: {error['msg']}"
            if field != "value"
            else "invalid 'value': must be a number, a boolean or a string"
        )
        raise GatewayError.invalid(message, param=field) from exc


async def _find(gateway: Gateway, tenant: Tenant, request_id: str) -> RequestRef:
    store = gateway.storage.behaviour
    retention = gateway.config.storage.retention_days
    oldest = None if retention is None else time.time() - retention * 86400.0
    await gateway.ledger.aflush()
    deadline = time.monotonic() + FIND_FOR_S
    while True:
        found = await store.find_request(tenant.id, request_id)
        if found is not None and (oldest is None or found.ts >= oldest):
            return found
        if found is not None or time.monotonic() >= deadline:
            raise GatewayError(
                ErrorKind.NOT_FOUND,
                f"no request {request_id!r} of this tenant (an x-request-id or an answer's id)",
                code=ErrorCode.REQUEST_NOT_FOUND,
                param="request_id",
            )
        await asyncio.sleep(FIND_EVERY_S)


def _answer(feedback: Feedback, status: int) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(feedback.answer()), content_type=JSON)
