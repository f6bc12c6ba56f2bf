"""What every admin handler shares: strict reading of a request, JSON answers,
and finding the tenant a request names.

Bodies are validated strictly (no type coercion: JSON has real types, and the
OpenAPI document's schemas, built from the same models, say so), queries with
pydantic's usual coercion (a query string has only strings). A bad value is
one 400 naming every offending field, in the OpenAI error body.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.gateway import GATEWAY, Gateway
from sluicegate.http_errors import JSON, json_object
from sluicegate.state.directory import Tenant

__all__ = ["gateway_of", "json_answer", "path_tenant", "read_body", "read_query", "tenant_named"]

M = TypeVar("M", bound=BaseModel)


def gateway_of(request: web.Request) -> Gateway:
    return request.app[GATEWAY]


def json_answer(model: BaseModel, *, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(model.model_dump(mode="json")), content_type=JSON
    )


def path_tenant(request: web.Request) -> Tenant:
    """The tenant the path's ``{name}`` names (404 when there is none)."""
    return tenant_named(gateway_of(request), request.match_info["name"])


def tenant_named(gateway: Gateway, name: str) -> Tenant:
    tenant = gateway.directory.tenant(name)
    if tenant is None:
        raise GatewayError(
            ErrorKind.NOT_FOUND, f"no tenant named {name!r}", code=ErrorCode.NOT_FOUND
        )
    return tenant


async def read_body(
    request: web.Request, model: type[M], *, defaults: dict[str, Any] | None = None
) -> M:
    """The body as ``model``, strictly; ``defaults`` fill fields the body leaves out."""
    raw = await request.read()
    if not raw.strip():
        raise GatewayError.invalid(
            "the request body must be a JSON object", code=ErrorCode.INVALID_JSON
        )
    data = json_object(raw)
    if defaults:
        data = {**defaults, **data}
    try:
        # Strict: JSON has real types, so "yes" is not a boolean and "5" not a number,
        # exactly as the OpenAPI document's schema (built from the same model) says.
        return model.model_validate(_whole_numbers(data), strict=True)
    except ValidationError as exc:
        raise _invalid(exc, "field") from exc


def _whole_numbers(value: Any) -> Any:
    """``5.0`` as ``5``: JSON Schema counts it as an integer, strict pydantic would not.

    A number field still takes it (strict floats accept ints), so nothing else changes.
    """
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def read_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise _invalid(exc, "query parameter") from exc


def _invalid(exc: ValidationError, what: str) -> GatewayError:
    """One 400 naming every offending field; ``param`` is the first of them."""
    problems: list[str] = []
    first: str | None = None
    for error in exc.errors(include_url=False):
        field = ".".join(str(p) for p in error["loc"])
        first = first or field or None
        if error["type"] == "extra_forbidden":
            message = f"unknown {what} {field!r}"
        else:
            text = error["msg"].removeprefix("Value error, ")
            # Name the offending value when it is short and the message does not already.
            given = repr(error.get("input"))
            if (
                isinstance(error.get("input"), str | int | float)
                and len(given) <= 64
                and given not in text
            ):
                text += f" (got {given})"
            message = f"invalid {what} {field!r}: {text}" if field else text
        problems.append(message)
    return GatewayError.invalid("; ".join(problems), param=first)
