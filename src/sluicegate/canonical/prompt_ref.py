"""A request's reference to a stored prompt (``"prompt": {...}`` in either protocol).

Both wire formats carry it the same way (SDKs send it with ``extra_body``), so
it is read here once; the prompt stage resolves it, and it never reaches an
upstream.
"""

from __future__ import annotations

from typing import Any

import msgspec

from sluicegate.canonical.codes import ErrorCode
from sluicegate.canonical.errors import GatewayError

_FIELDS = frozenset({"name", "label", "version", "variables"})


class PromptRef(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str | None = None
    version: int | None = None
    variables: dict[str, Any] = {}


# ``"model": "prompt:NAME"`` names a prompt whose own alias serves the request.
MODEL_PREFIX = "prompt:"


def names_a_prompt(body: dict[str, Any]) -> bool:
    """The request renders a stored prompt: its messages may then be empty."""
    model = body.get("model")
    return body.get("prompt") is not None or (
        isinstance(model, str) and model.startswith(MODEL_PREFIX)
    )


def decode_prompt_ref(value: Any) -> PromptRef:
    """The ``prompt`` field of a request body; a 400 naming the offending member."""
    if not isinstance(value, dict):
        raise _invalid("prompt", "must be an object with a 'name'")
    if not _FIELDS.issuperset(value):
        unknown = sorted(set(value) - _FIELDS)[0]
        raise _invalid(
            f"prompt.{unknown}", "is not a field of prompt (name, label, version, variables)"
        )
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise _invalid("prompt.name", "must be a non-empty string")
    label = value.get("label")
    if label is not None and (not isinstance(label, str) or not label):
        raise _invalid("prompt.label", "must be a non-empty string")
    version = value.get("version")
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        raise _invalid("prompt.version", "must be a whole number from 1")
    if label is not None and version is not None:
        raise _invalid("prompt.version", "give a label or a version, not both")
    variables = value.get("variables")
    if variables is None:
        variables = {}
    elif not isinstance(variables, dict):
        raise _invalid("prompt.variables", "must be an object")
    return PromptRef(name=name, label=label, version=version, variables=variables)


def _invalid(param: str, problem: str) -> GatewayError:
    return GatewayError.invalid(
        f"Invalid '{param}': {problem}.", code=ErrorCode.INVALID_VALUE, param=param
    )
