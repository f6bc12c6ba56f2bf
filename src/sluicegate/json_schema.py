"""JSON Schemas compiled safely, and once: kept for the next request that sends the same one.

A schema comes from a client, so compiling it must not be a way in: remote
``$ref``s are never fetched (``offline``: a schema that needs one does not
compile), ``pattern`` uses the linear-time regex engine (no catastrophic
backtracking on a model's answer), and a schema's size is bounded before it is
read. Validators are draft 2020-12 unless the schema's ``$schema`` names another
draft, and check ``format`` (a ``date`` that is not a date is invalid).

Clients send the same few schemas over and over (an SDK's ``parse`` sends its
model's schema on every call), so compiled validators are kept in an LRU keyed
by the schema's canonical JSON: after the first request, a schema costs one
serialisation and one dict lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import jsonschema_rs
import orjson

# A schema's canonical JSON beyond this is refused: real extraction schemas are a
# few KB; a 256 KB one is an attack on the compiler or a mistake.
MAX_SCHEMA_BYTES = 256 * 1024
CACHED_SCHEMAS = 512


class SchemaError(ValueError):
    """The schema cannot be used: the message says why, for a 400 naming the field."""


class CompiledSchema:
    """One schema and its validator; ``errors`` lists what is wrong with a value."""

    __slots__ = ("schema", "validator")

    def __init__(self, schema: Any, validator: jsonschema_rs.Validator) -> None:
        self.schema = schema
        self.validator = validator

    def is_valid(self, value: Any) -> bool:
        return bool(self.validator.is_valid(value))

    def errors(self, value: Any, limit: int = 5) -> list[str]:
        """The first ``limit`` violations, each as "at /path: message"."""
        found: list[str] = []
        for error in self.validator.iter_errors(value):
            path = "/" + "/".join(str(p) for p in error.instance_path)
            found.append(f"at {path}: {error.message}")
            if len(found) >= limit:
                break
        return found


def compile_schema(schema: Any) -> CompiledSchema:
    """Raises :class:`SchemaError`."""
    if not isinstance(schema, dict):
        raise SchemaError("a JSON Schema must be an object")
    try:
        validator = jsonschema_rs.validator_for(
            schema,
            validate_formats=True,
            offline=True,
            pattern_options=jsonschema_rs.RegexOptions(),
        )
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as exc:
        # The first line says what is wrong; the rest repeats the schema back.
        raise SchemaError(f"not a valid JSON Schema: {str(exc).splitlines()[0]}") from None
    return CompiledSchema(schema, validator)


class SchemaCache:
    """Compiled schemas by canonical JSON, least recently used out first."""

    def __init__(self, size: int = CACHED_SCHEMAS) -> None:
        self._size = size
        self._compiled: OrderedDict[bytes, CompiledSchema] = OrderedDict()

    def get(self, schema: Any) -> CompiledSchema:
        """Raises :class:`SchemaError` for a schema that is too large or does not compile."""
        try:
            key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            raise SchemaError("a JSON Schema must be JSON") from None
        compiled = self._compiled.get(key)
        if compiled is not None:
            self._compiled.move_to_end(key)
            return compiled
        if len(key) > MAX_SCHEMA_BYTES:
            raise SchemaError(f"the schema is {len(key)} bytes; at most {MAX_SCHEMA_BYTES}")
        compiled = compile_schema(schema)
        self._compiled[key] = compiled
        if len(self._compiled) > self._size:
            self._compiled.popitem(last=False)
        return compiled
