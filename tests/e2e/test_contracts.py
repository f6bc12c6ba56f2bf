"""Output contracts end to end: both official SDKs, fake upstreams that answer badly.

Each test scripts what the model says (fenced JSON, Python literals, a wrong
type, a cut-off object), then checks what the client got, the
``x-sluicegate-contract`` header, what the upstream was sent (the native
structured-output form, the re-ask turns) and the ledger record.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest
from pydantic import BaseModel

from fakes.anthropic_upstream import AnthropicUpstream
from fakes.openai_upstream import OpenAIUpstream
from fakes.stack import Stack, upstream_config

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "person", "schema": PERSON, "strict": True},
}
ASK = [{"role": "user", "content": "Who is Ada?"}]


class Person(BaseModel):
    name: str
    age: int


def config(oai: str, claude: str) -> dict[str, Any]:
    data = upstream_config(oai, claude)
    data["models"].append(
        {"name": "extract", "targets": [{"provider": "oai", "model": "gpt-4o"}],
         "pricing": {"input_per_mtok": 2.5, "output_per_mtok": 10.0},
         "contract": {"schema": PERSON, "max_reasks": 1}},
    )
    data["models"].append(
        {"name": "extract-pass", "targets": [{"provider": "oai", "model": "gpt-4o"}],
         "contract": {"schema": PERSON, "max_reasks": 0, "on_violation": "pass",
                      "stream": "pass"}},
    )
    return data


@pytest.fixture
async def stack(start_gateway) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        yield Stack(await start_gateway(config(oai.url, claude.url)), oai, claude)


async def test_a_valid_answer_passes_untouched_and_says_valid(stack: Stack) -> None:
    stack.oai_upstream.reply_with('{"name": "Ada", "age": 36}')
    raw = await stack.openai().chat.completions.with_raw_response.create(
        model="gpt", messages=ASK, response_format=RESPONSE_FORMAT,
    )
    assert raw.headers["x-sluicegate-contract"] == "valid"
    assert raw.headers["x-sluicegate-structured-output"] == "native"
    assert raw.parse().choices[0].message.content == '{"name": "Ada", "age": 36}'
    assert stack.oai_upstream.last_request.json["response_format"] == RESPONSE_FORMAT
    assert len(stack.oai_upstream.requests) == 1


async def test_fenced_python_literal_json_is_repaired_and_parse_works(stack: Stack) -> None:
    stack.oai_upstream.reply_with("Sure!\n```json\n{'name': 'Ada', 'age': 36,}\n```")
    raw = await stack.openai().beta.chat.completions.with_raw_response.parse(
        model="gpt", messages=ASK, response_format=Person,
    )
    assert raw.headers["x-sluicegate-contract"] == "repaired"
    assert raw.parse().choices[0].message.parsed == Person(name="Ada", age=36)
    assert len(stack.oai_upstream.requests) == 1


async def test_an_invalid_answer_is_reasked_with_the_validators_errors(stack: Stack) -> None:
    stack.oai_upstream.reply_with('{"name": "Ada", "age": "36"}', times=1)
    stack.oai_upstream.reply_with('{"name": "Ada", "age": 36}')
    raw = await stack.openai().chat.completions.with_raw_response.create(
        model="gpt", messages=ASK, response_format=RESPONSE_FORMAT,
    )
    assert raw.headers["x-sluicegate-contract"] == "reasked"
    answer = raw.parse()
    assert json.loads(answer.choices[0].message.content or "") == {"name": "Ada", "age": 36}
    reask = stack.oai_upstream.requests[1].json["messages"]
    assert reask[:1] == ASK
    assert reask[1] == {"role": "assistant", "content": '{"name": "Ada", "age": "36"}'}
    assert "at /age" in reask[2]["content"] and "integer" in reask[2]["content"]
    # The client is charged for both answers, and told so.
    assert answer.usage is not None and answer.usage.completion_tokens == 24
    [record] = await stack.ledger_records()
    assert record["contract"] == "reasked"
    assert [a[0] for a in record["contract_attempts"]] == ["invalid", "reasked"]
    assert record["output_tokens"] == 24 and record["cost_usd"] == pytest.approx(
        sum(a[3] for a in record["contract_attempts"])
    )


async def test_still_invalid_after_the_reasks_is_a_502_naming_the_errors(stack: Stack) -> None:
    stack.oai_upstream.reply_with('{"name": "Ada"}')
    with pytest.raises(openai.APIStatusError) as caught:
        await stack.openai().chat.completions.create(
            model="gpt", messages=ASK, response_format=RESPONSE_FORMAT,
        )
    assert caught.value.status_code == 502
    assert caught.value.response.headers["x-sluicegate-contract"] == "invalid"
    body: Any = caught.value.body
    assert body["code"] == "output_contract_violation"
    assert '"age" is a required property' in body["message"]
    assert len(stack.oai_upstream.requests) == 2  # one re-ask, the default
    [record] = await stack.ledger_records()
    assert record["status"] == 502 and record["contract"] == "invalid"
    assert len(record["contract_attempts"]) == 2


async def test_a_cut_off_answer_is_reasked_for_compact_json(stack: Stack) -> None:
    stack.oai_upstream.reply_with('{"name": "Ada", "a', finish_reason="length", times=1)
    stack.oai_upstream.reply_with('{"name":"Ada","age":36}')
    raw = await stack.openai().chat.completions.with_raw_response.create(
        model="gpt", messages=ASK, response_format=RESPONSE_FORMAT,
    )
    assert raw.headers["x-sluicegate-contract"] == "reasked"
    assert "cut off" in stack.oai_upstream.requests[1].json["messages"][-1]["content"]


async def test_the_alias_contract_applies_without_response_format(stack: Stack) -> None:
    stack.oai_upstream.reply_with("Ada is 36.")
    with pytest.raises(openai.APIStatusError) as caught:
        await stack.openai().chat.completions.create(model="extract", messages=ASK)
    assert caught.value.status_code == 502


async def test_on_violation_pass_hands_the_answer_on_marked_invalid(stack: Stack) -> None:
    stack.oai_upstream.reply_with("Ada is 36.")
    raw = await stack.openai().chat.completions.with_raw_response.create(
        model="extract-pass", messages=ASK,
    )
    assert raw.headers["x-sluicegate-contract"] == "invalid"
    assert raw.headers["x-sluicegate-structured-output"] == "checked"  # the alias's schema alone
    assert raw.parse().choices[0].message.content == "Ada is 36."


async def test_a_held_stream_streams_only_the_checked_answer(stack: Stack) -> None:
    stack.oai_upstream.reply_with("```json\n{\"name\": \"Ada\", \"age\": 36}\n```")
    chunks = []
    async with stack.openai().chat.completions.with_streaming_response.create(
        model="gpt", messages=ASK, response_format=RESPONSE_FORMAT, stream=True,
    ) as raw:
        assert raw.headers["x-sluicegate-contract"] == "repaired"
        async for chunk in await raw.parse():
            chunks.append(chunk)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(text) == {"name": "Ada", "age": 36}


async def test_a_passed_stream_ends_in_an_error_event_when_invalid(stack: Stack) -> None:
    stack.oai_upstream.reply_with("Ada is 36.")
    received = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in await stack.openai().chat.completions.create(
            model="extract-pass", messages=ASK, stream=True,
        ):
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received) == "Ada is 36."
    assert "output contract" in str(caught.value)


async def test_a_schema_that_does_not_compile_is_a_400_naming_the_field(stack: Stack) -> None:
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nope"}}}
    with pytest.raises(openai.BadRequestError) as caught:
        await stack.openai().chat.completions.create(model="gpt", messages=ASK,
                                                     response_format=bad)
    body: Any = caught.value.body
    assert body["param"] == "response_format.json_schema.schema"
    assert stack.oai_upstream.requests == []


async def test_tool_call_arguments_are_checked_against_the_tools_schema(stack: Stack) -> None:
    tools = [{"type": "function", "function": {"name": "save_person", "parameters": PERSON}}]
    stack.oai_upstream.reply_with_tool_calls(
        [("call_1", "save_person", '{"name": "Ada", "age": "old"}')], times=1,
    )
    stack.oai_upstream.reply_with_tool_calls(
        [("call_2", "save_person", '{"name": "Ada", "age": 36}')],
    )
    raw = await stack.openai().chat.completions.with_raw_response.create(
        model="extract", messages=ASK, tools=tools,  # type: ignore[arg-type]
    )
    assert raw.headers["x-sluicegate-contract"] == "reasked"
    call = raw.parse().choices[0].message.tool_calls[0]  # type: ignore[index]
    assert json.loads(call.function.arguments) == {"name": "Ada", "age": 36}  # type: ignore[union-attr]
    reask = stack.oai_upstream.requests[1].json["messages"]
    assert reask[2]["role"] == "tool" and reask[2]["tool_call_id"] == "call_1"
    assert "at /age" in reask[2]["content"]


async def test_openai_response_format_reaches_anthropic_as_output_config(stack: Stack) -> None:
    stack.claude_upstream.reply_with('{"name": "Ada", "age": 36}')
    raw = await stack.openai().chat.completions.with_raw_response.create(
        model="claude", messages=ASK, response_format=RESPONSE_FORMAT,
    )
    assert raw.headers["x-sluicegate-contract"] == "valid"
    sent = stack.claude_upstream.last_request.json
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": PERSON}}


async def test_json_mode_on_anthropic_is_instructed_and_checked(stack: Stack) -> None:
    stack.claude_upstream.reply_with("Here you go: {\"name\": \"Ada\"}")
    raw = await stack.openai().chat.completions.with_raw_response.create(
        model="claude", messages=ASK, response_format={"type": "json_object"},
    )
    assert raw.headers["x-sluicegate-contract"] == "repaired"
    assert raw.headers["x-sluicegate-structured-output"] == "instructed"
    assert json.loads(raw.parse().choices[0].message.content or "") == {"name": "Ada"}
    system = stack.claude_upstream.last_request.json["system"]
    assert "JSON object" in system[-1]["text"]


async def test_the_anthropic_sdk_output_config_is_checked_and_reasked(stack: Stack) -> None:
    stack.claude_upstream.reply_with('{"name": "Ada", "age": 36.5}', times=1)
    stack.claude_upstream.reply_with('{"name": "Ada", "age": 36}')
    raw = await stack.anthropic().messages.with_raw_response.create(
        model="claude", max_tokens=200, messages=ASK,  # type: ignore[arg-type]
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": PERSON}}},
    )
    assert raw.headers["x-sluicegate-contract"] == "reasked"
    message = await raw.parse()
    assert json.loads(message.content[0].text) == {"name": "Ada", "age": 36}  # type: ignore[union-attr]
    assert len(stack.claude_upstream.requests) == 2


async def test_the_anthropic_sdk_gets_a_violation_as_its_error(stack: Stack) -> None:
    stack.claude_upstream.reply_with("no JSON here")
    with pytest.raises(anthropic.APIStatusError) as caught:
        await stack.anthropic().messages.create(
            model="claude", max_tokens=200, messages=ASK,  # type: ignore[arg-type]
            extra_body={"output_format": {"type": "json_schema", "schema": PERSON}},
        )
    assert caught.value.status_code == 502
    assert "output contract" in str(caught.value)


async def test_an_answer_running_away_in_whitespace_is_cut_off_and_reasked(
    stack: Stack,
) -> None:
    stack.oai_upstream.reply_with('{"name": "Ada", ' + " " * 5000 + "\n", times=1)
    stack.oai_upstream.reply_with('{"name":"Ada","age":36}')
    raw = await stack.openai().chat.completions.with_raw_response.create(
        model="gpt", messages=ASK, response_format=RESPONSE_FORMAT, stream=False,
    )
    assert raw.headers["x-sluicegate-contract"] == "reasked"
    assert "ran away" not in str(stack.oai_upstream.requests[1].json["messages"][-1])
    assert "cut off" in stack.oai_upstream.requests[1].json["messages"][-1]["content"]


async def test_complete_json_then_runaway_whitespace_is_kept_without_the_whitespace(
    stack: Stack,
) -> None:
    stack.oai_upstream.reply_with('{"name": "Ada", "age": 36}' + "\n" * 5000)
    raw = await stack.openai().chat.completions.with_raw_response.create(
        model="gpt", messages=ASK, response_format=RESPONSE_FORMAT,
    )
    assert raw.headers["x-sluicegate-contract"] == "repaired"
    choice = raw.parse().choices[0]
    assert choice.message.content == '{"name": "Ada", "age": 36}'
    assert choice.finish_reason == "stop"


async def test_a_reask_that_would_pass_the_token_budget_is_not_made(
    start_gateway,  # type: ignore[no-untyped-def]
) -> None:
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        data = config(oai.url, claude.url)
        data["models"][0]["contract"] = {"reask_token_budget": 10}
        stack = Stack(await start_gateway(data), oai, claude)
        oai.reply_with('{"name": "Ada"}')
        with pytest.raises(openai.APIStatusError) as caught:
            await stack.openai().chat.completions.create(
                model="gpt", messages=ASK, response_format=RESPONSE_FORMAT,
            )
        assert caught.value.status_code == 502
        assert len(oai.requests) == 1


async def test_an_anthropic_stream_gets_the_checked_answer_in_its_own_events(
    stack: Stack,
) -> None:
    stack.claude_upstream.reply_with('```json\n{"name": "Ada", "age": 36}\n```')
    async with stack.anthropic().messages.stream(
        model="claude", max_tokens=200, messages=ASK,  # type: ignore[arg-type]
        extra_body={"output_config": {"format": {"type": "json_schema", "schema": PERSON}}},
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
    assert json.loads(text) == {"name": "Ada", "age": 36}


async def test_a_prompt_versions_response_format_makes_a_contract(start_gateway) -> None:  # type: ignore[no-untyped-def]
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        data = config(oai.url, claude.url)
        data["server"] = {"admin_key": "admin-secret"}
        stack = Stack(await start_gateway(data), oai, claude)
        admin = {"Authorization": "Bearer admin-secret"}
        document = {"name": "extract-person", "model": "gpt",
                    "messages": [{"role": "system", "content": "Extract the person."}],
                    "response_format": RESPONSE_FORMAT}
        created = await stack.gateway.post("/admin/prompts/extract-person/versions",
                                           json=document, headers=admin)
        assert created.status == 201, await created.text()
        moved = await stack.gateway.put("/admin/prompts/extract-person/labels/production",
                                        json={"version": 1}, headers=admin)
        assert moved.status == 200
        oai.reply_with("Ada, 36")
        with pytest.raises(openai.APIStatusError) as caught:
            await stack.openai().chat.completions.create(
                model="prompt:extract-person", messages=ASK,
                extra_body={"prompt": {"name": "extract-person"}},
            )
        assert caught.value.status_code == 502
        assert oai.requests[0].json["response_format"] == RESPONSE_FORMAT


async def test_a_reask_is_not_a_retry_an_alias_with_one_attempt_still_reasks(
    start_gateway,  # type: ignore[no-untyped-def]
) -> None:
    async with OpenAIUpstream() as oai, AnthropicUpstream() as claude:
        data = config(oai.url, claude.url)
        data["models"][0]["max_attempts"] = 1
        stack = Stack(await start_gateway(data), oai, claude)
        oai.reply_with('{"name": "Ada"}', times=1)
        oai.reply_with('{"name": "Ada", "age": 36}')
        raw = await stack.openai().chat.completions.with_raw_response.create(
            model="gpt", messages=ASK, response_format=RESPONSE_FORMAT,
        )
        assert raw.headers["x-sluicegate-contract"] == "reasked"
        assert len(oai.requests) == 2
