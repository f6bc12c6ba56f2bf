"""Which contract a request's answer must meet, worked out once per request.

A contract comes from the most specific place that sets one: the request's
``response_format`` (OpenAI's, or Anthropic's ``output_config.format`` /
``output_format``, decoded into it; a stored prompt version's lands there
too, as a default the request overrides), else the alias's
``contract.schema``. ``json_object`` asks for any JSON object. Tool-call
arguments are checked against their tool's schema whenever a contract is in
force. The alias's ``contract`` block sets how it is enforced (repair,
re-asks, violations, streams); without one the defaults apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluicegate.canonical import ChatRequest, GatewayError
from sluicegate.config.schema import ContractConfig
from sluicegate.json_schema import CompiledSchema, SchemaCache, SchemaError
from sluicegate.pipeline import Request

DEFAULTS = ContractConfig()


@dataclass(frozen=True, slots=True)
class Contract:
    # The answer's schema; None with ``json_object`` (any object) or when only
    # tool calls are checked.
    schema: CompiledSchema | None
    json_object: bool  # the answer must be a JSON object (json_object or a schema)
    tools: Mapping[str, CompiledSchema | None]  # tool name -> its arguments' schema
    settings: ContractConfig


def contract_for(request: Request, schemas: SchemaCache) -> Contract | None:
    """The contract ``request``'s answer must meet, or None. Raises a 400
    ``GatewayError`` naming the field of a schema that cannot be used."""
    body = request.body
    alias = request.alias
    if not isinstance(body, ChatRequest) or alias is None:
        return None
    configured = alias.config.contract
    response_format = body.response_format
    kind = response_format.get("type") if response_format is not None else None
    if configured is None and kind not in ("json_schema", "json_object"):
        return None
    settings = configured or DEFAULTS
    schema: CompiledSchema | None = None
    if kind == "json_schema":
        assert response_format is not None
        raw = (response_format.get("json_schema") or {}).get("schema")
        if raw is not None:
            schema = _compile(schemas, raw, _schema_param(request))
    elif kind != "json_object" and settings.schema_ is not None:
        schema = schemas.get(settings.schema_)  # compiled when the config loaded: cannot fail
    if body.n != 1:
        raise GatewayError.invalid(
            "n must be 1 when the answer is checked against an output contract", param="n"
        )
    tools = {
        tool.name: _compile(schemas, tool.parameters, _tool_param(request, i))
        if tool.parameters
        else None
        for i, tool in enumerate(body.tools)
    }
    return Contract(
        schema=schema,
        json_object=schema is not None or kind == "json_object",
        tools=tools,
        settings=settings,
    )


def _compile(schemas: SchemaCache, raw: Any, param: str) -> CompiledSchema:
    try:
        return schemas.get(raw)
    except SchemaError as exc:
        raise GatewayError.invalid(f"Invalid schema for '{param}': {exc}", param=param) from None


def _schema_param(request: Request) -> str:
    if request.protocol == "anthropic":
        body = request.body
        sent = body.extra.get("anthropic", {}) if isinstance(body, ChatRequest) else {}
        return "output_config.format.schema" if "output_config" in sent else "output_format.schema"
    return "response_format.json_schema.schema"


def _tool_param(request: Request, index: int) -> str:
    if request.protocol == "anthropic":
        return f"tools.{index}.input_schema"
    return f"tools[{index}].function.parameters"
