"""Compiling client schemas: safely (no fetching, no backtracking), once, bounded."""

from __future__ import annotations

import pytest

from sluicegate.json_schema import MAX_SCHEMA_BYTES, SchemaCache, SchemaError, compile_schema


def test_errors_name_the_path_and_the_problem() -> None:
    schema = compile_schema({
        "type": "object",
        "properties": {"age": {"type": "integer"}, "on": {"type": "string", "format": "date"}},
        "required": ["age"],
    })
    assert schema.errors({"age": "x", "on": "2024-13-01"}) == [
        'at /age: "x" is not of type "integer"',
        'at /on: "2024-13-01" is not a "date"',
    ]
    assert schema.is_valid({"age": 3})


def test_a_schema_that_does_not_compile_says_why() -> None:
    with pytest.raises(SchemaError, match="not a valid JSON Schema"):
        compile_schema({"type": "nope"})
    with pytest.raises(SchemaError, match="must be an object"):
        compile_schema([])


def test_remote_references_are_never_fetched() -> None:
    with pytest.raises(SchemaError, match="Retrieval is disabled"):
        compile_schema({"$ref": "http://127.0.0.1:9/schema.json"})


def test_patterns_use_the_linear_time_engine() -> None:
    with pytest.raises(SchemaError):
        compile_schema({"type": "string", "pattern": "(a)\\1"})  # backreferences need backtracking
    schema = compile_schema({"type": "string", "pattern": "^(a+)+$"})
    assert not schema.is_valid("a" * 10_000 + "b")  # returns at once


def test_the_cache_compiles_a_schema_once_whatever_its_key_order() -> None:
    cache = SchemaCache(size=2)
    first = cache.get({"type": "object", "required": ["a"]})
    assert cache.get({"required": ["a"], "type": "object"}) is first


def test_the_cache_forgets_the_least_recently_used() -> None:
    cache = SchemaCache(size=2)
    a = cache.get({"type": "string"})
    b = cache.get({"type": "integer"})
    cache.get({"type": "string"})
    cache.get({"type": "boolean"})  # pushes out the integer schema, used longest ago
    assert cache.get({"type": "string"}) is a
    assert cache.get({"type": "integer"}) is not b


def test_huge_schemas_are_refused_before_compiling() -> None:
    huge = {"type": "object", "description": "x" * MAX_SCHEMA_BYTES}
    with pytest.raises(SchemaError, match="bytes"):
        SchemaCache().get(huge)
