"""Whether one answer meets its contract, and the answer as the client gets it.

The answer's text is checked when the contract asks for JSON; when the model
called tools instead, each call's arguments are checked against that tool's
schema (a call to a tool the request did not offer is a violation). Text that
was JSON as it stood is handed on byte for byte; repaired JSON is handed on
as the value it was read as, written out compactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from sluicegate.canonical import ChatResponse, Message, TextPart, ToolCall
from sluicegate.contracts.contract import Contract
from sluicegate.contracts.parse import Parsed, read_json
from sluicegate.json_schema import CompiledSchema
from sluicegate.protocols.openai.fields import kind_name

# How the client is told the answer was cut off.
CUT_OFF = "the answer was cut off at max_tokens before the JSON was complete"


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    repaired: bool
    errors: tuple[str, ...]  # what is wrong, for the re-ask and the error message
    message: Message  # the answer as the client gets it (repaired where it was)
    cut_off: bool = False


def check_answer(response: ChatResponse, contract: Contract) -> Verdict:
    choice = response.choices[0]
    message = choice.message
    if message.tool_calls:
        return _check_calls(message, contract)
    if not contract.json_object:
        return Verdict(ok=True, repaired=False, errors=(), message=message)
    text = message.text()
    read = read_json(text, repair=contract.settings.repair)
    cut_off = choice.finish_reason == "length"
    if not isinstance(read, Parsed):
        reason = CUT_OFF if cut_off else read.reason
        return Verdict(ok=False, repaired=False, errors=(reason,), message=message, cut_off=cut_off)
    errors = _violations(read.value, contract.schema, must_be_object=True)
    if errors:
        return Verdict(ok=False, repaired=read.repaired, errors=errors, message=message)
    if read.repaired:
        message = Message(role="assistant", content=[TextPart(text=_dumps(read.value))])
    return Verdict(ok=True, repaired=read.repaired, errors=(), message=message)


def _check_calls(message: Message, contract: Contract) -> Verdict:
    errors: list[str] = []
    calls: list[ToolCall] = []
    repaired = False
    for call in message.tool_calls:
        if call.name not in contract.tools:
            errors.append(f"tool call {call.name!r}: no such tool was offered")
            calls.append(call)
            continue
        schema = contract.tools[call.name]
        read = read_json(call.arguments or "{}", repair=contract.settings.repair)
        if not isinstance(read, Parsed):
            errors.append(f"tool call {call.name!r}: {read.reason}")
            calls.append(call)
            continue
        found = _violations(read.value, schema, must_be_object=True)
        errors.extend(f"tool call {call.name!r}: {e}" for e in found)
        if read.repaired and not found:
            repaired = True
            call = ToolCall(id=call.id, name=call.name, arguments=_dumps(read.value))
        calls.append(call)
    if errors:
        return Verdict(ok=False, repaired=False, errors=tuple(errors), message=message)
    if repaired:
        message = Message(role="assistant", content=message.content, tool_calls=calls)
    return Verdict(ok=True, repaired=repaired, errors=(), message=message)


def _violations(
    value: Any, schema: CompiledSchema | None, *, must_be_object: bool
) -> tuple[str, ...]:
    if schema is None:
        if must_be_object and not isinstance(value, dict):
            return (f"at /: expected a JSON object, got {kind_name(value)}",)
        return ()
    if schema.is_valid(value):
        return ()
    return tuple(schema.errors(value))


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer past 64 bits: the standard library writes it exactly
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
