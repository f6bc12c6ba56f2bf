"""Judging one answer against its contract, and what the client gets back."""

from __future__ import annotations

from typing import Any

from sluicegate.canonical import ChatResponse, Choice, Message, TextPart, ToolCall
from sluicegate.config.schema import ContractConfig
from sluicegate.contracts.check import check_answer
from sluicegate.contracts.contract import Contract
from sluicegate.json_schema import compile_schema

PERSON = compile_schema({
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
})


def contract(schema: Any = PERSON, *, json_object: bool = True, repair: bool = True,
             tools: dict[str, Any] | None = None) -> Contract:
    return Contract(schema=schema, json_object=json_object, tools=tools or {},
                    settings=ContractConfig(repair=repair))


def answer(text: str = "", *, finish: str = "stop", calls: list[ToolCall] | None = None
           ) -> ChatResponse:
    message = Message(role="assistant", content=[TextPart(text=text)] if text else [],
                      tool_calls=calls or [])
    return ChatResponse(id="r", model="m", created=0,
                        choices=[Choice(index=0, message=message, finish_reason=finish)])


def test_valid_json_is_handed_on_byte_for_byte() -> None:
    text = '{ "name" : "Ada",\n "age": 36 }'
    verdict = check_answer(answer(text), contract())
    assert verdict.ok and not verdict.repaired
    assert verdict.message.text() == text


def test_repaired_json_is_handed_on_as_the_value_it_was_read_as() -> None:
    verdict = check_answer(answer("```json\n{'name': 'Ada', 'age': 36,}\n```"), contract())
    assert verdict.ok and verdict.repaired
    assert verdict.message.text() == '{"name":"Ada","age":36}'


def test_schema_violations_are_listed_with_their_paths() -> None:
    verdict = check_answer(answer('{"name": "Ada", "age": "36", "x": 1}'), contract())
    assert not verdict.ok
    assert sorted(verdict.errors) == [
        'at /: Additional properties are not allowed (\'x\' was unexpected)',
        'at /age: "36" is not of type "integer"',
    ]


def test_a_cut_off_answer_says_so() -> None:
    verdict = check_answer(answer('{"name": "Ada", "a', finish="length"), contract())
    assert not verdict.ok and verdict.cut_off
    assert "cut off at max_tokens" in verdict.errors[0]


def test_json_mode_wants_an_object_and_nothing_more() -> None:
    mode = contract(schema=None)
    assert check_answer(answer('{"anything": [1]}'), mode).ok
    verdict = check_answer(answer("[1, 2]"), mode)
    assert verdict.errors == ("at /: expected a JSON object, got an array",)


def test_without_repair_fenced_json_is_a_violation() -> None:
    assert not check_answer(answer('```json\n{"name": "Ada", "age": 1}\n```'),
                            contract(repair=False)).ok


def test_only_tool_calls_are_checked_when_no_json_is_asked_for() -> None:
    tools_only = contract(schema=None, json_object=False, tools={"save": PERSON})
    assert check_answer(answer("plain prose is fine"), tools_only).ok
    bad = answer(calls=[ToolCall(id="c1", name="save", arguments='{"name": "Ada"}')])
    verdict = check_answer(bad, tools_only)
    assert verdict.errors == ("tool call 'save': at /: \"age\" is a required property",)


def test_tool_call_arguments_are_repaired_by_syntax_only() -> None:
    call = ToolCall(id="c1", name="save", arguments="{'name': 'Ada', 'age': 36}")
    verdict = check_answer(answer(calls=[call]), contract(tools={"save": PERSON}))
    assert verdict.ok and verdict.repaired
    assert verdict.message.tool_calls[0].arguments == '{"name":"Ada","age":36}'
    assert verdict.message.tool_calls[0].id == "c1"


def test_a_call_to_a_tool_that_was_not_offered_is_a_violation() -> None:
    call = ToolCall(id="c1", name="rm_rf", arguments="{}")
    verdict = check_answer(answer(calls=[call]), contract(tools={"save": PERSON}))
    assert verdict.errors == ("tool call 'rm_rf': no such tool was offered",)


def test_a_tool_without_parameters_takes_any_object() -> None:
    call = ToolCall(id="c1", name="now", arguments="")
    assert check_answer(answer(calls=[call]), contract(tools={"now": None})).ok
