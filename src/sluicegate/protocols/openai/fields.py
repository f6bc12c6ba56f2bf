"""Reading the fields of an OpenAI request body, with OpenAI's own 400s.

Each reader checks one field and, when it is wrong, raises the
:class:`GatewayError` OpenAI would: ``param`` names the field (e.g.
``messages[1].content``) and ``code`` says what is wrong with it
(``missing_required_parameter``, ``invalid_type``, ``invalid_value``...), so a
client sees the same 400 it would get from OpenAI, before any tenant budget or
upstream call is spent on it.

Plain dict handling on purpose: this runs on every request, and a schema
library would cost more than the checks themselves.
"""

from __future__ import annotations

from typing import Any

import orjson

from sluicegate.canonical import ErrorCode, GatewayError
from sluicegate.protocols.nesting import MAX_DEPTH, too_deep_field

# --------------------------------------------------------------------------- errors


def kind_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def missing(param: str) -> GatewayError:
    return GatewayError.invalid(
        f"Missing required parameter: '{param}'.",
        param=param,
        code=ErrorCode.MISSING_REQUIRED_PARAMETER,
    )


def wrong_type(param: str, value: Any, expected: str) -> GatewayError:
    return GatewayError.invalid(
        f"Invalid type for '{param}': expected {expected}, but got {kind_name(value)} instead.",
        param=param,
        code=ErrorCode.INVALID_TYPE,
    )


def bad_value(param: str, message: str) -> GatewayError:
    return GatewayError.invalid(
        f"Invalid value for '{param}': {message}", param=param, code=ErrorCode.INVALID_VALUE
    )


def one_of(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


# --------------------------------------------------------------------------- field readers


def opt_str(data: dict[str, Any], key: str, param: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise wrong_type(param, value, "a string")


def req_str(data: dict[str, Any], key: str, param: str) -> str:
    value = data.get(key)
    if value is None:
        raise missing(param)
    if not isinstance(value, str):
        raise wrong_type(param, value, "a string")
    return value


def opt_bool(data: dict[str, Any], key: str) -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise wrong_type(key, value, "a boolean")


def opt_int(
    data: dict[str, Any], key: str, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(key, value, "an integer")
    if minimum is not None and value < minimum:
        raise GatewayError.invalid(
            f"Invalid '{key}': integer below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.",
            param=key,
            code=ErrorCode.INTEGER_BELOW_MIN_VALUE,
        )
    if maximum is not None and value > maximum:
        raise GatewayError.invalid(
            f"Invalid '{key}': integer above maximum value. Expected a value <= {maximum}, "
            f"but got {value} instead.",
            param=key,
            code=ErrorCode.INTEGER_ABOVE_MAX_VALUE,
        )
    return value


def opt_number(data: dict[str, Any], key: str, minimum: float, maximum: float) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise wrong_type(key, value, "a decimal")
    if value < minimum:
        raise GatewayError.invalid(
            f"Invalid '{key}': decimal below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.",
            param=key,
            code=ErrorCode.DECIMAL_BELOW_MIN_VALUE,
        )
    if value > maximum:
        raise GatewayError.invalid(
            f"Invalid '{key}': decimal above maximum value. Expected a value <= {maximum}, "
            f"but got {value} instead.",
            param=key,
            code=ErrorCode.DECIMAL_ABOVE_MAX_VALUE,
        )
    return float(value)


def as_object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise wrong_type(param, value, "an object")
    return value


def as_array(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise wrong_type(param, value, "an array")
    return value


# --------------------------------------------------------------------------- the body


def parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError.invalid(
            f"We could not parse the JSON body of your request ({exc}). The OpenAI API expects "
            "a JSON payload.",
            code=ErrorCode.INVALID_JSON,
        ) from None
    if not isinstance(data, dict):
        raise GatewayError.invalid(
            f"The request body must be a JSON object, but got {kind_name(data)} instead.",
            code=ErrorCode.INVALID_TYPE,
        )
    deep = too_deep_field(body, data)
    if deep is not None:
        raise bad_value(deep, f"JSON nested more than {MAX_DEPTH} levels deep.")
    return data


def model_of(data: dict[str, Any]) -> str:
    """The required, non-empty ``model`` of a chat or an embeddings request."""
    name = req_str(data, "model", "model")
    if not name:
        raise bad_value("model", "expected a non-empty string.")
    return name
