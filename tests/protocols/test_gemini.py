"""The Gemini wire format <-> canonical model, from Google's documented and captured payloads."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fakes.gemini_upstream import (
    API_KEY_INVALID,
    CAPTURED_FUNCTION_CALL_STREAM,
    CAPTURED_TEXT_STREAM,
    INTERNAL,
    OVERLOADED,
    RATE_LIMITED,
    blocked_prompt,
    compact,
    embed_response,
    function_call_part,
    generate_response,
    pretty,
    stream_chunks,
)
from sluicegate.canonical import (
    ChatRequest,
    EmbeddingRequest,
    EmbeddingsResult,
    Event,
    Finish,
    GatewayError,
    ImagePart,
    Message,
    Start,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    Usage,
)
from sluicegate.canonical.collect import ResponseCollector
from sluicegate.canonical.events import ToolCallDelta
from sluicegate.canonical.tokens import estimate_text_tokens
from sluicegate.protocols.gemini import (
    FOREIGN_THOUGHT_SIGNATURE,
    GeminiError,
    GenerateStreamDecoder,
    decode_embed_response,
    decode_generate_response,
    encode_embed_request,
    encode_generate_request,
    error_from_body,
)
from sluicegate.protocols.sse import SSEParser

MODEL = "gemini-2.5-flash"


def user(*content: str | ImagePart) -> Message:
    parts = [TextPart(text=c) if isinstance(c, str) else c for c in content]
    return Message(role="user", content=parts)


def encoded(**fields: Any) -> dict[str, Any]:
    fields.setdefault("model", MODEL)
    result: dict[str, Any] = orjson.loads(encode_generate_request(ChatRequest(**fields)))
    return result


def timeless(events: list[Event]) -> list[Event]:
    """Events with Start.created zeroed (it is the local clock)."""
    for event in events:
        if isinstance(event, Start):
            assert event.created > 0
            event.created = 0
    return events


def stream_events(body: bytes, *, model: str = MODEL, piece: int = 0) -> list[Event]:
    """Run an SSE body through the parser and decoder, optionally in ``piece``-byte reads."""
    parser, decoder = SSEParser(), GenerateStreamDecoder(model=model)
    reads = [body[i : i + piece] for i in range(0, len(body), piece)] if piece else [body]
    events: list[Event] = []
    for read in reads:
        for sse in parser.feed(read):
            events.extend(decoder.feed(sse.data))
    return timeless(events + decoder.finish())


def sse(chunks: list[Any]) -> bytes:
    return b"".join(b"data: " + compact(c) + b"\r\n\r\n" for c in chunks)


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------

LIGHT_TOOLS = [  # the lighting example of Google's function-calling guide
    Tool(name="enable_lights", description="Turn on the lighting system.",
         parameters={"type": "object", "properties": {}}),
    Tool(
        name="set_light_color",
        description="Set the light color. Lights must be enabled for this to work.",
        parameters={
            "type": "object",
            "properties": {"rgb_hex": {"type": "string",
                                       "description": "The light color as a 6-digit hex string."}},
            "required": ["rgb_hex"],
        },
    ),
    Tool(name="stop_lights", description="Turn off the lighting system."),
]

REQUEST_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "quickstart",
        {"messages": [user("Explain how AI works in a few words")]},
        {"contents": [{"role": "user",
                       "parts": [{"text": "Explain how AI works in a few words"}]}]},
    ),
    (
        "system instruction, same-role turns merged, assistant is model",
        {"messages": [
            Message(role="system", content=[TextPart(text="You are a cat. Your name is Neko.")]),
            user("Hello there"),
            user("", "How are you?"),
            Message(role="assistant", content=[TextPart(text="Meow.")]),
            Message(role="assistant", content=[]),
        ]},
        {
            "systemInstruction": {"parts": [{"text": "You are a cat. Your name is Neko."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hello there"}, {"text": "How are you?"}]},
                {"role": "model", "parts": [{"text": "Meow."}]},
            ],
        },
    ),
    (
        "generation config",
        {"messages": [user("Write a story about a magic backpack.")], "stop": ["Title"],
         "temperature": 1.0, "max_tokens": 800, "top_p": 0.8, "top_k": 10, "n": 2, "seed": 7},
        {
            "contents": [{"role": "user",
                          "parts": [{"text": "Write a story about a magic backpack."}]}],
            "generationConfig": {"stopSequences": ["Title"], "temperature": 1.0,
                                 "maxOutputTokens": 800, "topP": 0.8, "topK": 10,
                                 "candidateCount": 2, "seed": 7},
        },
    ),
    (
        "function declarations; no parameters means none sent",
        {"messages": [user("Turn on the lights please.")], "tools": LIGHT_TOOLS,
         "tool_choice": ToolChoice(mode="auto")},
        {
            "contents": [{"role": "user", "parts": [{"text": "Turn on the lights please."}]}],
            "tools": [{"functionDeclarations": [
                {"name": "enable_lights", "description": "Turn on the lighting system."},
                {"name": "set_light_color",
                 "description": "Set the light color. Lights must be enabled for this to work.",
                 "parameters": LIGHT_TOOLS[1].parameters},
                {"name": "stop_lights", "description": "Turn off the lighting system."},
            ]}],
            "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        },
    ),
    (
        "json object output",
        {"messages": [user("List three colours as JSON.")],
         "response_format": {"type": "json_object"}},
        {
            "contents": [{"role": "user", "parts": [{"text": "List three colours as JSON."}]}],
            "generationConfig": {"responseMimeType": "application/json"},
        },
    ),
    (
        "extra gemini fields merged last",
        {"messages": [user("Hi")], "temperature": 0.2,
         "extra": {"gemini": {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}},
                              "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT",
                                                  "threshold": "BLOCK_ONLY_HIGH"}]}}},
        {
            "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "generationConfig": {"temperature": 0.2, "thinkingConfig": {"thinkingBudget": 0}},
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT",
                                "threshold": "BLOCK_ONLY_HIGH"}],
        },
    ),
]


@pytest.mark.parametrize(("fields", "expected"), [c[1:] for c in REQUEST_CASES],
                         ids=[c[0] for c in REQUEST_CASES])
def test_encode_request(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    assert encoded(**fields) == expected


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (ToolChoice(mode="auto"), {"mode": "AUTO"}),
        (ToolChoice(mode="none"), {"mode": "NONE"}),
        (ToolChoice(mode="required"), {"mode": "ANY"}),
        (ToolChoice(mode="tool", name="set_light_color"),
         {"mode": "ANY", "allowedFunctionNames": ["set_light_color"]}),
    ],
)
def test_tool_choice_becomes_function_calling_mode(
    choice: ToolChoice, expected: dict[str, Any]
) -> None:
    body = encoded(messages=[user("Lights!")], tools=LIGHT_TOOLS, tool_choice=choice)
    assert body["toolConfig"] == {"functionCallingConfig": expected}


def test_no_tool_config_without_a_choice() -> None:
    assert "toolConfig" not in encoded(messages=[user("Lights!")], tools=LIGHT_TOOLS)


STRICT_SCHEMA = {  # what OpenAI strict mode and pydantic produce
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"], "type": "string"}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
REF_SCHEMA = {
    "$defs": {"Unit": {"enum": ["C", "F"], "type": "string"}},
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"$ref": "#/$defs/Unit"}},
    "required": ["city"],
}
NULLABLE_SCHEMA = {"type": "object", "properties": {"note": {"type": ["string", "null"]}}}


@pytest.mark.parametrize(
    ("schema", "key", "sent"),
    [
        (STRICT_SCHEMA, "parameters", {**STRICT_SCHEMA, "additionalProperties": None}),
        (REF_SCHEMA, "parametersJsonSchema", REF_SCHEMA),
        (NULLABLE_SCHEMA, "parametersJsonSchema", NULLABLE_SCHEMA),
    ],
    ids=["openapi subset (additionalProperties false dropped)", "$ref", "type list"],
)
def test_tool_schemas_outside_the_openapi_subset_go_as_json_schema(
    schema: dict[str, Any], key: str, sent: dict[str, Any]
) -> None:
    body = encoded(messages=[user("Weather?")],
                   tools=[Tool(name="get_weather", parameters=schema)])
    declaration = body["tools"][0]["functionDeclarations"][0]
    expected = {k: v for k, v in sent.items() if v is not None}
    assert declaration == {"name": "get_weather", key: expected}


@pytest.mark.parametrize(
    ("schema", "key"),
    [(STRICT_SCHEMA, "responseSchema"), (REF_SCHEMA, "responseJsonSchema")],
)
def test_json_schema_response_format(schema: dict[str, Any], key: str) -> None:
    body = encoded(
        messages=[user("Weather in Paris as JSON")],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "weather", "strict": True, "schema": schema}},
    )
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert set(config) == {"responseMimeType", key}
    assert config[key]["required"] == schema["required"]
    assert "additionalProperties" not in config[key]


def test_images_become_inline_data_and_file_data() -> None:
    body = encoded(messages=[user(
        "What is in these images?",
        ImagePart(url="data:image/jpeg;base64,/9j/4AAQSkZJRg=="),
        ImagePart(media_type="image/webp", data="UklGRiQAAABXRUJQ"),
        ImagePart(url="https://example.com/photos/cat.png?size=large"),
        ImagePart(url="gs://cloud-samples-data/generative-ai/image/scones.jpg"),
        ImagePart(url="https://example.com/render", media_type="image/gif"),
        ImagePart(url="https://example.com/unknown"),
    )])
    assert body["contents"][0]["parts"] == [
        {"text": "What is in these images?"},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}},
        {"inlineData": {"mimeType": "image/webp", "data": "UklGRiQAAABXRUJQ"}},
        {"fileData": {"mimeType": "image/png",
                      "fileUri": "https://example.com/photos/cat.png?size=large"}},
        {"fileData": {"mimeType": "image/jpeg",
                      "fileUri": "gs://cloud-samples-data/generative-ai/image/scones.jpg"}},
        {"fileData": {"mimeType": "image/gif", "fileUri": "https://example.com/render"}},
        {"fileData": {"fileUri": "https://example.com/unknown"}},
    ]


WEATHER_HISTORY = [
    user("What's the weather in Tokyo and Paris?"),
    Message(role="assistant", content=[TextPart(text="Let me check.")], tool_calls=[
        ToolCall(id="call_a", name="getWeather", arguments='{"location": "Tokyo"}'),
        ToolCall(id="call_b", name="getWeather", arguments='{"location":"Paris"}'),
    ]),
    Message(role="tool", tool_call_id="call_a",
            content=[TextPart(text='{"temperature": 22, "condition": "Cloudy"}')]),
    Message(role="tool", tool_call_id="call_b", content=[TextPart(text="Sunny, 18C")]),
]


def test_tool_calls_and_results_round_trip() -> None:
    body = encoded(messages=WEATHER_HISTORY)
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "What's the weather in Tokyo and Paris?"}]},
        {"role": "model", "parts": [
            {"text": "Let me check."},
            {"functionCall": {"name": "getWeather", "args": {"location": "Tokyo"}},
             "thoughtSignature": FOREIGN_THOUGHT_SIGNATURE},
            {"functionCall": {"name": "getWeather", "args": {"location": "Paris"}}},
        ]},
        # Both answers in one user turn, each named after the call it answers.
        {"role": "user", "parts": [
            {"functionResponse": {"name": "getWeather",
                                  "response": {"temperature": 22, "condition": "Cloudy"}}},
            {"functionResponse": {"name": "getWeather", "response": {"output": "Sunny, 18C"}}},
        ]},
    ]


@pytest.mark.parametrize(
    ("text", "is_error", "response"),
    [
        ('{"ok": true}', False, {"ok": True}),
        ("[1, 2]", False, {"output": [1, 2]}),
        ("42", False, {"output": "42"}),
        ("{not json", False, {"output": "{not json"}),
        ("", False, {"output": ""}),
        ("city not found", True, {"error": "city not found"}),
        ('{"code": 404}', True, {"error": {"code": 404}}),
        # Deeper than an encoder can write out: kept as the text it is.
        ("[" * 300 + "]" * 300, False, {"output": "[" * 300 + "]" * 300}),
    ],
)
def test_tool_result_wrapping(text: str, is_error: bool, response: dict[str, Any]) -> None:
    body = encoded(messages=[
        user("Go"),
        Message(role="assistant", tool_calls=[ToolCall(id="c1", name="lookup", arguments="{}")]),
        Message(role="tool", tool_call_id="c1", is_error=is_error, content=[TextPart(text=text)]),
    ])
    assert body["contents"][-1]["parts"] == [
        {"functionResponse": {"name": "lookup", "response": response}}
    ]


@pytest.mark.parametrize(
    ("arguments", "args"),
    [("", {}), ('{"a": 1}', {"a": 1}), ("[1]", {"value": [1]}),
     ('{"a": 1', {"arguments": '{"a": 1'}),
     # Deeper than an encoder can write out (was a 500): kept as the text it is.
     ('{"a": ' * 300 + "1" + "}" * 300, {"arguments": '{"a": ' * 300 + "1" + "}" * 300})],
)
def test_replayed_arguments_are_always_an_object(arguments: str, args: dict[str, Any]) -> None:
    body = encoded(messages=[
        user("Go"),
        Message(role="assistant", tool_calls=[ToolCall(id="c", name="f", arguments=arguments)]),
    ])
    assert body["contents"][1]["parts"][0]["functionCall"]["args"] == args


def test_tool_result_name_comes_from_the_latest_call_with_that_id_or_the_message() -> None:
    body = encoded(messages=[
        user("Go"),
        Message(role="assistant", tool_calls=[ToolCall(id="call_0", name="first", arguments="")]),
        Message(role="tool", tool_call_id="call_0", content=[TextPart(text="1")]),
        Message(role="assistant", tool_calls=[ToolCall(id="call_0", name="second", arguments="")]),
        Message(role="tool", tool_call_id="call_0", content=[TextPart(text="2")]),
        Message(role="tool", tool_call_id="elsewhere", name="named", content=[TextPart(text="3")]),
    ])
    names = [p["functionResponse"]["name"] for c in body["contents"] for p in c["parts"]
             if "functionResponse" in p]
    assert names == ["first", "second", "named"]


def test_tool_result_for_an_unknown_call_is_a_client_error() -> None:
    with pytest.raises(GatewayError) as caught:
        encoded(messages=[user("Go"), Message(role="tool", tool_call_id="call_zz",
                                              content=[TextPart(text="x")])])
    assert caught.value.status == 400
    assert caught.value.param == "messages[1].tool_call_id"


# ---------------------------------------------------------------------------
# Whole answers
# ---------------------------------------------------------------------------

# The function-call answer of Google's documented find_theaters example.
FIND_THEATERS = orjson.dumps({
    "candidates": [{
        "content": {"role": "model", "parts": [{"functionCall": {
            "name": "find_theaters",
            "args": {"location": "Mountain View, CA", "movie": "Barbie"}}}]},
        "finishReason": "STOP",
        "safetyRatings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"}],
    }],
    "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 11, "totalTokenCount": 20},
})

RESPONSE_CASES: list[tuple[str, bytes, list[Event]]] = [
    (
        "documented text answer",
        pretty(generate_response("AI learns patterns from data to make predictions.")),
        [Start(id="mOEhaMGJHtCtz7IPoNWe2Qo", model=MODEL),
         TextDelta(text="AI learns patterns from data to make predictions."),
         Finish(reason="stop"), Usage(input_tokens=8, output_tokens=12)],
    ),
    (
        "documented function call, no id, no model version",
        FIND_THEATERS,
        [Start(id="", model="gemini-request-model"),
         ToolCallDelta(call_index=0, id="", name="find_theaters",
                       arguments='{"location":"Mountain View, CA","movie":"Barbie"}'),
         Finish(reason="tool_calls"), Usage(input_tokens=9, output_tokens=11)],
    ),
    (
        "text then parallel calls, one with Gemini's own id",
        pretty(generate_response("Checking both.", response_id="r-1", function_calls=[
            function_call_part("getWeather", {"location": "Tokyo"}, signature="c2ln"),
            function_call_part("getWeather", {"location": "Paris"}, call_id="fc-9"),
        ])),
        [Start(id="r-1", model=MODEL), TextDelta(text="Checking both."),
         ToolCallDelta(call_index=0, id="call_r-1_0", name="getWeather",
                       arguments='{"location":"Tokyo"}'),
         ToolCallDelta(call_index=1, id="fc-9", name="getWeather",
                       arguments='{"location":"Paris"}'),
         Finish(reason="tool_calls"), Usage(input_tokens=8, output_tokens=12)],
    ),
    (
        "thinking spent the budget",
        pretty(generate_response("ok", finish_reason="MAX_TOKENS", prompt_tokens=27,
                                 candidates_tokens=6, thoughts_tokens=194)),
        [Start(id="mOEhaMGJHtCtz7IPoNWe2Qo", model=MODEL), TextDelta(text="ok"),
         Finish(reason="length"),
         Usage(input_tokens=27, output_tokens=200, reasoning_tokens=194)],
    ),
    (
        "implicit cache hit",
        pretty(generate_response("Paris.", prompt_tokens=900, candidates_tokens=200,
                                 cached_tokens=512, thoughts_tokens=150)),
        [Start(id="mOEhaMGJHtCtz7IPoNWe2Qo", model=MODEL), TextDelta(text="Paris."),
         Finish(reason="stop"),
         Usage(input_tokens=900, output_tokens=350, cached_tokens=512, reasoning_tokens=150)],
    ),
    (
        "blocked prompt ends in content_filter",
        pretty(blocked_prompt("PROHIBITED_CONTENT")),
        [Start(id="blocked0000000000000000", model=MODEL), Finish(reason="content_filter"),
         Usage(input_tokens=8)],
    ),
    (
        "thought summaries and empty text are not answer text; no finishReason is a stop",
        orjson.dumps({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "**Planning** the reply", "thought": True}, {"text": ""}, {"text": "Hi!"}]}}],
            "modelVersion": "gemini-3-pro-preview", "responseId": "t1"}),
        [Start(id="t1", model="gemini-3-pro-preview"), TextDelta(text="Hi!"),
         Finish(reason="stop")],
    ),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in RESPONSE_CASES],
                         ids=[c[0] for c in RESPONSE_CASES])
def test_decode_response(body: bytes, expected: list[Event]) -> None:
    events = timeless(decode_generate_response(body, model="gemini-request-model"))
    start = events[0]
    assert isinstance(start, Start)
    if not expected[0].id:  # type: ignore[union-attr]
        # Synthesized ids: one per response, and call ids derived from it.
        assert start.id.startswith("gemini-")
        for event in events:
            if isinstance(event, ToolCallDelta):
                assert event.id == f"call_{start.id}_{event.call_index}"
                event.id = ""
        start.id = ""
    assert events == expected


@pytest.mark.parametrize(
    "reason", ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"]
)
def test_filtered_candidates_end_in_content_filter(reason: str) -> None:
    events = decode_generate_response(pretty(generate_response(None, finish_reason=reason)),
                                      model=MODEL)
    assert [e for e in events if isinstance(e, Finish)] == [Finish(reason="content_filter")]


@pytest.mark.parametrize("reason", ["OTHER", "LANGUAGE", "MALFORMED_FUNCTION_CALL"])
def test_other_finish_reasons_are_a_stop(reason: str) -> None:
    events = decode_generate_response(pretty(generate_response(None, finish_reason=reason)),
                                      model=MODEL)
    assert [e for e in events if isinstance(e, Finish)] == [Finish(reason="stop")]


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"candidates": []}', b'{"usageMetadata": {"promptTokenCount": 3}}'],
    ids=["empty", "array", "no candidates", "usage only"],
)
def test_unusable_answers_raise_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        decode_generate_response(body, model=MODEL)


def test_an_error_body_is_a_gemini_error() -> None:
    with pytest.raises(GeminiError) as caught:
        decode_generate_response(pretty(OVERLOADED), model=MODEL)
    assert (caught.value.status, caught.value.reason) == (503, "UNAVAILABLE")


@pytest.mark.parametrize(
    ("body", "http_status", "status", "reason", "retry_after"),
    [
        (pretty(RATE_LIMITED), 429, 429, "RESOURCE_EXHAUSTED", 37.0),
        (pretty({"error": {**RATE_LIMITED["error"], "code": 400}}), 400,
         429, "RESOURCE_EXHAUSTED", 37.0),
        (pretty(API_KEY_INVALID), 400, 401, "INVALID_ARGUMENT", None),
        (pretty(INTERNAL), 500, 500, "INTERNAL", None),
        (pretty([OVERLOADED]), 503, 503, "UNAVAILABLE", None),
        (b"<html><title>502 Bad Gateway</title></html>", 502, 502, None, None),
    ],
    ids=["quota", "quota whatever the code", "bad key", "internal", "array-wrapped", "not json"],
)
def test_error_bodies(body: bytes, http_status: int, status: int, reason: str | None,
                      retry_after: float | None) -> None:
    error = error_from_body(body, http_status)
    assert (error.status, error.reason, error.retry_after) == (status, reason, retry_after)
    assert error.message


# ---------------------------------------------------------------------------
# Streams
# ---------------------------------------------------------------------------

CAPTURED_TEXT_EVENTS: list[Event] = [
    Start(id="ag4pavQTzLrj4Q-XkKnZBA", model="gemini-2.5-flash"),
    TextDelta(text="Four."),
    Finish(reason="stop"),
    Usage(input_tokens=51, output_tokens=2),
]


@pytest.mark.parametrize("piece", [0, 1, 7], ids=["whole", "byte by byte", "7-byte reads"])
def test_captured_text_stream(piece: int) -> None:
    assert stream_events(CAPTURED_TEXT_STREAM, piece=piece) == CAPTURED_TEXT_EVENTS


def test_captured_function_call_stream() -> None:
    assert stream_events(CAPTURED_FUNCTION_CALL_STREAM) == [
        Start(id="qpc2afWVFJK4vr0Pq6WiyAU", model="gemini-2.5-flash"),
        ToolCallDelta(call_index=0, id="call_qpc2afWVFJK4vr0Pq6WiyAU_0", name="getWeather",
                      arguments='{"location":"Tokyo"}'),
        Finish(reason="tool_calls"),
        Usage(input_tokens=83, output_tokens=118, reasoning_tokens=104),
    ]


def test_cumulative_usage_is_reported_once_with_the_last_values() -> None:
    chunks = stream_chunks(["The ", "capital ", "is ", "Paris."], prompt_tokens=900,
                           thoughts_tokens=150, cached_tokens=512)
    events = stream_events(sse(chunks))
    assert [e for e in events if isinstance(e, Usage)] == [
        Usage(input_tokens=900, output_tokens=8 + 150, cached_tokens=512, reasoning_tokens=150)
    ]
    assert isinstance(events[0], Start)
    assert events[-1] == Usage(input_tokens=900, output_tokens=158, cached_tokens=512,
                               reasoning_tokens=150)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "The capital is Paris."


def test_two_candidates_finish_separately() -> None:
    def chunk(index: int, text: str, finish: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"},
                                     "index": index}
        if finish:
            candidate["finishReason"] = finish
        return {"candidates": [candidate], "responseId": "two"}

    decoder = GenerateStreamDecoder(model=MODEL)
    events = decoder.feed(compact(chunk(0, "A")).decode()) + decoder.feed(
        compact(chunk(1, "B", "STOP")).decode())
    assert not decoder.finished  # candidate 0 is still open
    events += decoder.feed(compact(chunk(0, "a", "MAX_TOKENS")).decode())
    assert decoder.finished
    assert timeless(events)[1:] == [
        TextDelta(text="A", index=0), TextDelta(text="B", index=1), Finish(reason="stop", index=1),
        TextDelta(text="a", index=0), Finish(reason="length", index=0),
    ]
    assert decoder.finish() == []  # no usageMetadata was sent


@pytest.mark.parametrize("cut_after", [0, 1, 3])
def test_a_stream_without_its_finish_reason_was_cut(cut_after: int) -> None:
    chunks = stream_chunks(["The ", "capital ", "is ", "Paris."])
    decoder = GenerateStreamDecoder(model=MODEL)
    for chunk in chunks[:cut_after]:
        decoder.feed(compact(chunk).decode())
    with pytest.raises(GatewayError) as caught:
        decoder.finish()
    assert (caught.value.code, caught.value.status, caught.value.retryable) == (
        "upstream_stream_cut", 502, True)


def test_an_error_chunk_mid_stream_raises() -> None:
    decoder = GenerateStreamDecoder(model=MODEL)
    decoder.feed(compact(stream_chunks(["Hel", "lo"])[0]).decode())
    with pytest.raises(GeminiError) as caught:
        decoder.feed(compact(INTERNAL).decode())
    assert (caught.value.status, caught.value.reason) == (500, "INTERNAL")


def test_an_error_as_the_first_chunk_raises_before_start() -> None:
    with pytest.raises(GeminiError) as caught:
        GenerateStreamDecoder(model=MODEL).feed(compact(RATE_LIMITED).decode())
    assert (caught.value.status, caught.value.retry_after) == (429, 37.0)


@pytest.mark.parametrize("data", ['{"candidates": [', "[]", "null"])
def test_junk_chunks_raise_value_error(data: str) -> None:
    with pytest.raises(ValueError):
        GenerateStreamDecoder(model=MODEL).feed(data)


def test_collected_answer_replays_as_history() -> None:
    """A streamed function call, collected, then sent back with its result."""
    collector = ResponseCollector()
    for event in stream_events(CAPTURED_FUNCTION_CALL_STREAM):
        collector.add(event)
    answer = collector.response().choices[0]
    assert answer.finish_reason == "tool_calls"
    (call,) = answer.message.tool_calls
    body = encoded(messages=[
        user("今日の東京の天気を教えて"),
        answer.message,
        Message(role="tool", tool_call_id=call.id,
                content=[TextPart(text='{"temperature": 22, "condition": "Cloudy"}')]),
    ])
    assert body["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "getWeather",
                                                      "args": {"location": "Tokyo"}},
                                     "thoughtSignature": FOREIGN_THOUGHT_SIGNATURE}]},
        {"role": "user", "parts": [{"functionResponse": {
            "name": "getWeather", "response": {"temperature": 22, "condition": "Cloudy"}}}]},
    ]


# ---------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["text-embedding-004", "models/text-embedding-004"])
def test_encode_batch_embed(model: str) -> None:
    request = EmbeddingRequest(model="embed", inputs=["What is the meaning of life?", "Hi"],
                               dimensions=256)
    assert orjson.loads(encode_embed_request(request, model)) == {"requests": [
        {"model": "models/text-embedding-004",
         "content": {"parts": [{"text": "What is the meaning of life?"}]},
         "outputDimensionality": 256},
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "Hi"}]},
         "outputDimensionality": 256},
    ]}


def test_token_array_inputs_are_refused() -> None:
    with pytest.raises(GatewayError) as caught:
        encode_embed_request(EmbeddingRequest(model="e", inputs=["ok", [1, 2, 3]]), "embed-004")
    assert (caught.value.status, caught.value.param) == (400, "input[1]")


def test_decode_batch_embed_estimates_usage() -> None:
    inputs = ["What is the meaning of life?", "How much wood would a woodchuck chuck?"]
    body = pretty(embed_response([[0.013168523, -0.008711934], [-0.0051, 0.0094]]))
    assert decode_embed_response(body, model="text-embedding-004", inputs=inputs) == [
        EmbeddingsResult(model="text-embedding-004",
                         vectors=[[0.013168523, -0.008711934], [-0.0051, 0.0094]]),
        Usage(input_tokens=sum(map(estimate_text_tokens, inputs)), estimated=True),
    ]


def test_decode_batch_embed_uses_reported_usage() -> None:
    body = orjson.dumps({"embeddings": [{"values": [0.5]}],
                         "usageMetadata": {"promptTokenCount": 7}})
    events = decode_embed_response(body, model="gemini-embedding-001", inputs=["hello"])
    assert events[1] == Usage(input_tokens=7)


def test_decode_batch_embed_rejects_a_short_answer() -> None:
    with pytest.raises(ValueError):
        decode_embed_response(pretty(embed_response([[0.1]])), model="m", inputs=["a", "b"])
