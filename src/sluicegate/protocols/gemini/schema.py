"""JSON Schemas as Gemini takes them: its own ``Schema`` where one fits, else as is.

Gemini's ``Schema`` is an OpenAPI 3.0 subset. A JSON Schema using anything
else ($ref, const, type lists ...) is sent as ``parametersJsonSchema`` /
``responseJsonSchema`` instead, which take full JSON Schema but are newer; the
subset keeps the common case on the oldest, most widely supported field.
"""

from __future__ import annotations

from typing import Any

__all__ = ["schema_field"]

JSON = dict[str, Any]

# Keys of Gemini's ``Schema``.
_SCHEMA_KEYS = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
})
_SCHEMA_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object"})


def _openapi_subset(schema: Any) -> Any:
    """``schema`` as a Gemini ``Schema``, or None when it does not fit one.

    ``additionalProperties: false`` (which OpenAI strict mode and pydantic put
    on every object) is dropped rather than disqualifying: Gemini only ever
    produces the declared properties anyway.
    """
    if not isinstance(schema, dict):
        return None
    out: JSON = {}
    for key, value in schema.items():
        if key == "additionalProperties" and value is False:
            continue
        if key not in _SCHEMA_KEYS:
            return None
        if key == "type":
            if not (isinstance(value, str) and value.lower() in _SCHEMA_TYPES):
                return None
        elif key == "properties":
            if not isinstance(value, dict):
                return None
            properties = {name: _openapi_subset(sub) for name, sub in value.items()}
            if None in properties.values():
                return None
            value = properties
        elif key == "items":
            if (value := _openapi_subset(value)) is None:
                return None
        elif key == "anyOf":
            if not isinstance(value, list):
                return None
            value = [_openapi_subset(v) for v in value]
            if None in value:
                return None
        out[key] = value
    return out


def schema_field(schema: JSON, subset_key: str, json_schema_key: str) -> JSON:
    """The one field that carries ``schema``: ``{subset_key: Schema}`` where the
    subset fits, else ``{json_schema_key: schema}`` (e.g. ``parameters`` /
    ``parametersJsonSchema`` of a function declaration)."""
    subset = _openapi_subset(schema)
    return {json_schema_key: schema} if subset is None else {subset_key: subset}
