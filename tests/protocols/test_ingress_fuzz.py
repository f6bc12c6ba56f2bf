"""Fuzzing both ingresses: whatever a client sends, the answer is a request or a 4xx.

Bodies are shaped like real requests (the fields each API documents, nested
the way the SDKs send them), then damaged: values of the wrong type, fields
missing or added, odd unicode, numbers beyond 64 bits, nesting deeper than an
encoder can follow. Every body must decode to a canonical request or raise a
``GatewayError`` with a 4xx status, and every request that decodes must
re-encode for every upstream type, and for the pipeline's own keys, without
raising: anything else would be a 500 for a client's mistake.

Derandomized, so the suite runs the same examples every time, and sized to
take a few seconds.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluicegate.cache.key import cache_key
from sluicegate.canonical import ChatRequest, EmbeddingRequest, GatewayError
from sluicegate.canonical.tokens import estimate_reservation
from sluicegate.protocols.anthropic.messages_request import decode_messages_request
from sluicegate.protocols.anthropic.messages_upstream import encode_messages_request
from sluicegate.protocols.gemini.embed import encode_embed_request
from sluicegate.protocols.gemini.generate_request import encode_generate_request
from sluicegate.protocols.openai.chat_request import decode_chat_request
from sluicegate.protocols.openai.chat_upstream import (
    encode_chat_request,
    encode_embeddings_request,
)
from sluicegate.protocols.openai.embeddings import decode_embeddings_request

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ---------------------------------------------------------------------------- values

ODD_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "\u202eevil",  # right-to-left override
            "\ufeff",  # byte order mark
            "e\u0301",  # combining accent
            "\U0010ffff",
            "🤖" * 3,
            "\r\n",
            "data: [DONE]\n\n",
            "x" * 300,
        ]
    ),
)
HUGE_INTS = st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30, -(10**30)])
NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=2),
    st.integers(min_value=1, max_value=4096),
    st.floats(min_value=0, max_value=1),
    st.integers(),
    HUGE_INTS,
    st.floats(allow_nan=False, allow_infinity=False),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, ODD_TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(ODD_TEXT, inner, max_size=3)
    ),
    max_leaves=8,
)

# Stand-ins replaced in the encoded body by JSON text that a Python value cannot
# carry: nesting deeper than json.dumps recurses, and numbers beyond a double.
_DEEP = "__deep_{}_{}__"
_RAW = "__raw_{}__"
_RAW_TOKENS = ["1e400", "-1e400", "1" + "0" * 400, "1e-400", "-0", "0.0e0"]
DEEP = st.builds(
    _DEEP.format,
    st.sampled_from([60, 127, 200, 254, 255, 300, 1000, 1023, 1024, 1030]),
    st.sampled_from(["list", "dict"]),
)
RAW_NUMBERS = st.builds(_RAW.format, st.integers(0, len(_RAW_TOKENS) - 1))
JUNK = st.one_of(JSON_VALUES, JSON_VALUES, JSON_VALUES, DEEP, RAW_NUMBERS)


def _deep(match: re.Match[str]) -> str:
    depth, kind = int(match.group(1)), match.group(2)
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


def to_body(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False)
    text = re.sub(r'"__deep_(\d+)_(list|dict)__"', _deep, text)
    text = re.sub(r'"__raw_(\d+)__"', lambda m: _RAW_TOKENS[int(m.group(1))], text)
    return text.encode("utf-8")


def obj(
    required: dict[str, st.SearchStrategy[Any]],
    optional: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional=optional or {})


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``value`` that a mutation can hit, the root included."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*path, i))
    return found


def _mutate(draw: st.DrawFn, value: Any) -> Any:
    """One damage at a random place: a wrong value, a field removed or added."""
    path = draw(st.sampled_from(_paths(value)))
    if not path:
        return draw(JUNK)
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
    if action == "replace":
        parent[last] = draw(JUNK)
    elif action == "remove":
        del parent[last]
    elif isinstance(parent, dict):
        parent[draw(ODD_TEXT)] = draw(JUNK)
    else:
        parent.append(draw(JUNK))
    return value


def damaged(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A valid request body with none to a few damages."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        value = copy.deepcopy(draw(valid))
        for _ in range(draw(st.integers(0, 3))):
            value = _mutate(draw, value)
        return value

    return build()


def some(strategy: st.SearchStrategy[Any], max_size: int = 3) -> st.SearchStrategy[Any]:
    return st.lists(strategy, max_size=max_size)


SCHEMA = st.one_of(
    st.just({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}),
    st.just({}),
    DEEP,
    JSON_VALUES,
)
ARGUMENTS = st.one_of(
    st.just('{"q": "x"}'),
    st.just(""),
    st.just("[1, 2"),
    st.just("[" * 300 + "]" * 300),
    st.just('{"a":' * 600 + "1" + "}" * 600),
    ODD_TEXT,
)

# ---------------------------------------------------------------------------- OpenAI

MODEL = st.one_of(st.just("gpt-4o"), ODD_TEXT)
TOKENS = st.integers(min_value=1, max_value=4096)
UNIT = st.floats(min_value=0, max_value=1)
_IMAGE_URL = obj(
    {"url": st.sampled_from(["https://example.com/cat.png", "data:image/png;base64,iVBORw0KGgo="])},
    {"detail": st.sampled_from(["auto", "low", "high"])},
)
_TEXT_PART = obj({"type": st.just("text"), "text": ODD_TEXT})
_USER_PART = st.one_of(_TEXT_PART, obj({"type": st.just("image_url"), "image_url": _IMAGE_URL}))
_ARGS = obj({"name": ODD_TEXT, "arguments": ARGUMENTS})
_OPENAI_CALL = obj({"id": ODD_TEXT, "type": st.just("function"), "function": _ARGS})
_OPENAI_MESSAGE = st.one_of(
    obj({"role": st.sampled_from(["system", "developer"]),
         "content": st.one_of(ODD_TEXT, some(_TEXT_PART))}, {"name": ODD_TEXT}),
    obj({"role": st.just("user"), "content": st.one_of(ODD_TEXT, some(_USER_PART))},
        {"name": ODD_TEXT}),
    obj({"role": st.just("assistant")}, {
        "content": st.one_of(st.none(), ODD_TEXT, some(st.one_of(
            _TEXT_PART, obj({"type": st.just("refusal"), "refusal": ODD_TEXT})))),
        "tool_calls": some(_OPENAI_CALL),
        "function_call": _ARGS,
    }),
    obj({"role": st.just("tool"), "tool_call_id": ODD_TEXT,
         "content": st.one_of(ODD_TEXT, some(_TEXT_PART))}),
    obj({"role": st.just("function"), "name": ODD_TEXT}, {"content": ODD_TEXT}),
)
_FUNCTION = obj({"name": ODD_TEXT},
                {"description": ODD_TEXT, "parameters": SCHEMA, "strict": st.booleans()})
OPENAI_CHAT = obj(
    {"model": MODEL, "messages": some(_OPENAI_MESSAGE, 4).filter(bool)},
    {
        "stream": st.booleans(),
        "max_tokens": TOKENS,
        "max_completion_tokens": TOKENS,
        "temperature": UNIT,
        "top_p": UNIT,
        "stop": st.one_of(ODD_TEXT, some(ODD_TEXT)),
        "n": st.integers(1, 4),
        "seed": st.integers(),
        "user": ODD_TEXT,
        "tools": some(obj({"type": st.just("function"), "function": _FUNCTION})),
        "tool_choice": st.one_of(
            st.sampled_from(["auto", "none", "required"]),
            obj({"type": st.just("function"), "function": obj({"name": ODD_TEXT})}),
        ),
        "parallel_tool_calls": st.booleans(),
        "response_format": st.one_of(
            obj({"type": st.sampled_from(["text", "json_object"])}),
            obj({"type": st.just("json_schema"),
                 "json_schema": obj({"name": ODD_TEXT}, {"schema": SCHEMA})}),
        ),
        "functions": some(_FUNCTION),
        "function_call": st.one_of(st.sampled_from(["auto", "none"]), obj({"name": ODD_TEXT})),
        "metadata": JSON_VALUES,
        "logit_bias": JSON_VALUES,
    },
)
OPENAI_EMBEDDINGS = obj(
    {
        "model": MODEL,
        "input": st.one_of(
            ODD_TEXT.filter(bool),
            some(ODD_TEXT.filter(bool)).filter(bool),
            some(st.integers(0, 100_000)).filter(bool),
            some(some(st.integers(0, 100_000)).filter(bool)).filter(bool),
        ),
    },
    {
        "encoding_format": st.sampled_from(["float", "base64"]),
        "dimensions": TOKENS,
        "user": ODD_TEXT,
    },
)

# ---------------------------------------------------------------------------- Anthropic

_CACHE = {"cache_control": st.just({"type": "ephemeral"})}
_SOURCE = st.one_of(
    obj({"type": st.just("base64"), "media_type": st.just("image/png"), "data": ODD_TEXT}),
    obj({"type": st.just("url"), "url": ODD_TEXT}),
)
_TEXT_BLOCK = obj({"type": st.just("text"), "text": ODD_TEXT}, _CACHE)
_IMAGE_BLOCK = obj({"type": st.just("image"), "source": _SOURCE}, _CACHE)
_TOOL_RESULT = obj({"type": st.just("tool_result"), "tool_use_id": ODD_TEXT}, {
    "content": st.one_of(ODD_TEXT, some(st.one_of(_TEXT_BLOCK, _IMAGE_BLOCK))),
    "is_error": st.booleans(),
    **_CACHE,
})
_TOOL_INPUT = st.one_of(st.just({"q": "x"}), DEEP, st.dictionaries(ODD_TEXT, JSON_VALUES))
_TOOL_USE = obj({"type": st.just("tool_use"), "id": ODD_TEXT, "name": ODD_TEXT,
                 "input": _TOOL_INPUT})
_THINKING = obj({"type": st.just("thinking"), "thinking": ODD_TEXT, "signature": ODD_TEXT})
_ANTHROPIC_MESSAGE = st.one_of(
    obj({"role": st.just("user"),
         "content": st.one_of(ODD_TEXT, some(st.one_of(_TEXT_BLOCK, _IMAGE_BLOCK, _TOOL_RESULT)))}),
    obj({"role": st.just("assistant"),
         "content": st.one_of(ODD_TEXT, some(st.one_of(_TEXT_BLOCK, _TOOL_USE, _THINKING)))}),
)
_ANTHROPIC_TOOL = st.one_of(
    obj({"name": ODD_TEXT, "input_schema": SCHEMA.filter(lambda s: isinstance(s, dict | str))},
        {"description": ODD_TEXT, "type": st.just("custom"), "strict": st.booleans(), **_CACHE}),
    obj({"type": st.sampled_from(["web_search_20250305", "bash_20250124"]), "name": ODD_TEXT}),
)
ANTHROPIC_MESSAGES = obj(
    {"model": MODEL, "max_tokens": TOKENS, "messages": some(_ANTHROPIC_MESSAGE, 4).filter(bool)},
    {
        "system": st.one_of(ODD_TEXT, some(_TEXT_BLOCK)),
        "tools": some(_ANTHROPIC_TOOL),
        "tool_choice": st.one_of(
            obj({"type": st.sampled_from(["auto", "any", "none"])},
                {"disable_parallel_tool_use": st.booleans()}),
            obj({"type": st.just("tool"), "name": ODD_TEXT}),
        ),
        "stop_sequences": some(ODD_TEXT),
        "temperature": UNIT,
        "top_p": UNIT,
        "top_k": st.integers(0, 500),
        "stream": st.booleans(),
        "metadata": obj({}, {"user_id": ODD_TEXT}),
        "output_config": obj({}, {"format": obj({"type": st.just("json_schema"),
                                                 "schema": st.just({"type": "object"})})}),
        "thinking": obj({"type": st.just("enabled"), "budget_tokens": TOKENS}),
        "service_tier": st.sampled_from(["auto", "standard_only"]),
    },
)

# ---------------------------------------------------------------------------- checks


def decoded_or_rejected(decode: Callable[[bytes], Any], body: bytes) -> Any:
    """The decoded request, or None when the body was refused with a 4xx."""
    try:
        return decode(body)
    except GatewayError as err:
        assert 400 <= err.status < 500, (err, body[:300])
        return None


def _encodes(encode: Callable[[], bytes]) -> None:
    try:
        assert encode()
    except GatewayError as err:
        # An upstream type that cannot carry the request (Gemini: a tool result
        # without a call to name it, token arrays to embed) refuses it as the
        # client's mistake, naming the field.
        assert err.status == 400 and err.param, err


def assert_reencodes_chat(request: ChatRequest) -> None:
    _encodes(lambda: encode_chat_request(request, "gpt-4o"))
    _encodes(lambda: encode_messages_request(request, "claude-sonnet-4-5"))
    _encodes(lambda: encode_generate_request(request))
    assert cache_key(request, scope="tenant:t", alias="a", targets=("p/m",))
    # Admission counts reservations in Redis as 64-bit integers.
    assert 0 <= sum(estimate_reservation(request)) < 2**63


def assert_reencodes_embeddings(request: EmbeddingRequest) -> None:
    _encodes(lambda: encode_embeddings_request(request, "text-embedding-3-small"))
    _encodes(lambda: encode_embed_request(request, "text-embedding-004"))
    assert cache_key(request, scope="tenant:t", alias="a", targets=("p/m",))


@FUZZ
@given(damaged(OPENAI_CHAT))
def test_openai_chat_bodies_decode_or_are_refused(value: Any) -> None:
    request = decoded_or_rejected(decode_chat_request, to_body(value))
    if request is not None:
        assert_reencodes_chat(request)


@FUZZ
@given(damaged(OPENAI_EMBEDDINGS))
def test_openai_embeddings_bodies_decode_or_are_refused(value: Any) -> None:
    request = decoded_or_rejected(decode_embeddings_request, to_body(value))
    if request is not None:
        assert_reencodes_embeddings(request)


@FUZZ
@given(damaged(ANTHROPIC_MESSAGES))
def test_anthropic_messages_bodies_decode_or_are_refused(value: Any) -> None:
    request = decoded_or_rejected(decode_messages_request, to_body(value))
    if request is not None:
        assert_reencodes_chat(request)


@FUZZ
@given(st.one_of(st.binary(max_size=64), st.builds(to_body, JUNK)))
def test_any_bytes_at_all_decode_or_are_refused(body: bytes) -> None:
    for decode in (decode_chat_request, decode_embeddings_request, decode_messages_request):
        decoded_or_rejected(decode, body)


# ---------------------------------------------------------------------------- every field

# Requests with every documented field present, so that the sweep below reaches each.
FULL_OPENAI_CHAT: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}], "name": "ops"},
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png",
                                                "detail": "low"}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "look", "arguments": '{"q": "cat"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}],
         "function_call": {"name": "look", "arguments": "{}"}},
        {"role": "function", "name": "look", "content": "{}"},
    ],
    "stream": True,
    "stream_options": {"include_usage": True},
    "max_completion_tokens": 100,
    "max_tokens": 100,
    "temperature": 0.5,
    "top_p": 0.9,
    "stop": ["\n\n"],
    "n": 2,
    "seed": 7,
    "user": "u-1",
    "tools": [{"type": "function", "function": {
        "name": "look", "description": "Look.", "strict": True,
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    }}],
    "tool_choice": {"type": "function", "function": {"name": "look"}},
    "parallel_tool_calls": False,
    "response_format": {"type": "json_schema",
                        "json_schema": {"name": "out", "schema": {"type": "object"}}},
    "functions": [{"name": "old", "parameters": {"type": "object"}}],
    "function_call": {"name": "old"},
    "logit_bias": {"50256": -100},
}
FULL_OPENAI_EMBEDDINGS: dict[str, Any] = {
    "model": "text-embedding-3-small",
    "input": ["one", "two"],
    "encoding_format": "base64",
    "dimensions": 256,
    "user": "u-1",
}
FULL_OPENAI_TOKEN_EMBEDDINGS: dict[str, Any] = {"model": "e", "input": [[1, 2], [3]]}
FULL_ANTHROPIC_MESSAGES: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 1024,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "Look at this.", "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/c.png"}},
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "look", "input": {"q": "cat"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": False,
             "cache_control": {"type": "ephemeral"},
             "content": [{"type": "text", "text": "a cat"}]},
            {"type": "text", "text": "And?"},
        ]},
    ],
    "tools": [
        {"name": "look", "description": "Look.", "input_schema": {"type": "object"},
         "strict": True, "cache_control": {"type": "ephemeral"}},
        {"type": "web_search_20250305", "name": "web_search"},
    ],
    "tool_choice": {"type": "tool", "name": "look", "disable_parallel_tool_use": True},
    "stop_sequences": ["\n\nHuman:"],
    "temperature": 0.5,
    "top_p": 0.9,
    "top_k": 40,
    "stream": True,
    "metadata": {"user_id": "u-1"},
    "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
    "thinking": {"type": "enabled", "budget_tokens": 1024},
}
WRONG_VALUES: list[Any] = [
    None, True, 0, -1, 2**63, 2**64, 10**30, 1.5, "", "x", [], [1], ["x"], {}, {"a": 1},
    [{"type": "text"}], _DEEP.format(300, "list"), _DEEP.format(1000, "dict"),
    _RAW.format(0), _RAW.format(2),
]


def _every_damage(request: dict[str, Any]) -> list[bytes]:
    """``request`` with each of its values, in turn, removed or replaced by each wrong value."""
    bodies = []
    for path in _paths(request)[1:]:
        for value in [_REMOVE, *WRONG_VALUES]:
            damaged_request = copy.deepcopy(request)
            parent = damaged_request
            for step in path[:-1]:
                parent = parent[step]
            if value is _REMOVE:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
            bodies.append(to_body(damaged_request))
    return bodies


_REMOVE = object()


def test_every_field_of_an_openai_chat_request_with_every_wrong_type() -> None:
    assert decode_chat_request(to_body(FULL_OPENAI_CHAT))
    for body in _every_damage(FULL_OPENAI_CHAT):
        request = decoded_or_rejected(decode_chat_request, body)
        if request is not None:
            assert_reencodes_chat(request)


def test_every_field_of_an_openai_embeddings_request_with_every_wrong_type() -> None:
    for full in (FULL_OPENAI_EMBEDDINGS, FULL_OPENAI_TOKEN_EMBEDDINGS):
        assert decode_embeddings_request(to_body(full))
        for body in _every_damage(full):
            request = decoded_or_rejected(decode_embeddings_request, body)
            if request is not None:
                assert_reencodes_embeddings(request)


def test_every_field_of_an_anthropic_messages_request_with_every_wrong_type() -> None:
    assert decode_messages_request(to_body(FULL_ANTHROPIC_MESSAGES))
    for body in _every_damage(FULL_ANTHROPIC_MESSAGES):
        request = decoded_or_rejected(decode_messages_request, body)
        if request is not None:
            assert_reencodes_chat(request)
