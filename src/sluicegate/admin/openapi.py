"""The admin API's OpenAPI 3.1 document, built from the route table.

Each route is declared once as an :class:`Operation` (method, path, handler and
the pydantic models of its query, body and answer). The router and this
document are both made from that one table, and the schemas come from the
same models the handlers validate with, so the document describes what the
server really does. Pydantic emits JSON Schema 2020-12, which is the schema
dialect of OpenAPI 3.1, so its output is used unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from sluicegate.admin.schemas import ErrorBody

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

_REF_TEMPLATE = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{(\w+)\}")
# Shared error answers, referenced from each operation as components/responses/NAME.
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Invalid request: the message and `param` name the offending field."),
    401: ("Unauthorized", "Missing or wrong admin key, or the admin API is disabled."),
    404: ("NotFound", "No such tenant, key or prompt (or version, or label)."),
    409: ("Conflict", "Conflicts with the current state (duplicate name, config-defined "
          "tenant, no config file to reload, a label moved meanwhile)."),
    422: ("LintFailed", "The prompt linter found errors; they are under `lint` (add "
          "`?force=true` to store the version anyway)."),
    500: ("InternalError", "The gateway failed; its log has the details."),
}


@dataclass(frozen=True, slots=True)
class Operation:
    """One admin route: how it is served and how it is documented."""

    method: Method
    path: str
    handler: Handler
    summary: str
    tag: str
    response: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    description: str | None = None
    # Other media types the success answer can be in (a query parameter picks one), as text.
    text_types: tuple[str, ...] = ()


def build_openapi(
    operations: Iterable[Operation],
    *,
    path_params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``operations``.

    ``path_params`` describes path parameters by name (``{"name": "The tenant's name."}``).
    Every operation is documented as needing the admin key.
    """
    ops = list(operations)
    described = path_params or {}
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for op in ops:
        if op.body is not None:
            models.append((op.body, "validation"))
        if op.response is not None:
            models.append((op.response, "serialization"))
    refs, definitions = models_json_schema(_unique(models), ref_template=_REF_TEMPLATE)

    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                **({"description": described[name]} if name in described else {}),
            }
            for name in _PATH_PARAM.findall(op.path)
        ]
        if op.query is not None:
            parameters += _query_parameters(op.query)
        operation: dict[str, Any] = {
            "operationId": op.handler.__name__,
            "summary": op.summary,
            "tags": [op.tag],
        }
        if op.description:
            operation["description"] = op.description
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        success = _json_response(
            "Success.", refs[(op.response, "serialization")] if op.response else {}
        )
        for media_type in op.text_types:
            success["content"][media_type] = {"schema": {"type": "string"}}
        responses: dict[str, Any] = {str(op.status): success}
        for status in sorted({401, 500, *op.errors}):
            responses[str(status)] = {"$ref": f"#/components/responses/{_ERRORS[status][0]}"}
        operation["responses"] = responses
        paths.setdefault(op.path, {})[op.method.lower()] = operation

    error_schema = refs[(ErrorBody, "serialization")]

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sluicegate admin API",
            "version": _version(),
            "description": "Tenants, API keys, usage and operations of a Sluicegate gateway. "
            "Every route needs the admin key (server.admin_key).",
        },
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "responses": {
                name: _json_response(text, error_schema) for name, text in _ERRORS.values()
            },
            "securitySchemes": {
                "adminBearer": {"type": "http", "scheme": "bearer"},
                "adminApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
        "security": [{"adminBearer": []}, {"adminApiKey": []}],
    }


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation", ref_template=_REF_TEMPLATE)
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _without_null(prop),
        }
        if description:
            param["description"] = description
        out.append(param)
    return out


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, null]`` -> X: an absent query parameter is how null is spelled."""
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) == 1:
            # The null default goes too: it is not a value of the remaining schema.
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            if rest.get("default", ...) is None:
                del rest["default"]
            return {**kept[0], **rest}
    return schema


def _json_response(description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": dict(schema) or {"type": "object"}}},
    }


def _unique(
    models: list[tuple[type[BaseModel], JsonSchemaMode]],
) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    return list(dict.fromkeys(models))


def _version() -> str:
    try:
        return metadata.version("sluicegate")
    except metadata.PackageNotFoundError:
        return "0+unknown"
