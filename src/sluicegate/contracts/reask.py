"""The follow-up turn that shows the model its invalid answer and what is wrong with it.

The model sees its own answer (as the assistant turn it was) and the
validator's messages, not a generic "try again": a re-ask that names the
error fixes it far more often than asking blindly. Tool calls get their
errors as tool results, which every provider's protocol requires after a
call. A cut-off answer is asked for again in compact form, since the same
request at the same ``max_tokens`` would be cut off again.
"""

from __future__ import annotations

import msgspec

from sluicegate.canonical import ChatRequest, Message, TextPart
from sluicegate.contracts.check import Verdict

# The invalid answer is shown whole up to this; past it, its start (the errors say the rest).
MAX_SHOWN_CHARS = 16_000


def reask_body(body: ChatRequest, verdict: Verdict) -> ChatRequest:
    answer = verdict.message
    errors = "\n".join(f"- {e}" for e in verdict.errors)
    turns: list[Message] = [*body.messages]
    if answer.tool_calls:
        turns.append(
            Message(role="assistant", content=answer.content, tool_calls=answer.tool_calls)
        )
        turns.extend(
            Message(
                role="tool",
                tool_call_id=call.id,
                is_error=True,
                content=[TextPart(text=_call_errors(call.name, verdict.errors))],
            )
            for call in answer.tool_calls
        )
        turns.append(Message(role="user", content=[TextPart(text=(
            "Your tool call did not match the tool's JSON Schema:\n"
            f"{errors}\nCall the tool again with arguments that match its schema."
        ))]))
    else:
        shown = answer.text()
        if len(shown) > MAX_SHOWN_CHARS:
            shown = shown[:MAX_SHOWN_CHARS] + " [...]"
        turns.append(Message(role="assistant", content=[TextPart(text=shown or "(empty)")]))
        if verdict.cut_off:
            ask = (
                "Your answer was cut off at the token limit before the JSON was complete. "
                "Answer again with the complete JSON only, written compactly: no indentation, "
                "no prose, no code fences."
            )
        else:
            ask = (
                f"Your answer does not meet the required JSON Schema:\n{errors}\n"
                "Answer again with only the corrected JSON: no prose, no code fences."
            )
        turns.append(Message(role="user", content=[TextPart(text=ask)]))
    return msgspec.structs.replace(body, messages=turns)


def _call_errors(name: str, errors: tuple[str, ...]) -> str:
    own = [e for e in errors if e.startswith(f"tool call {name!r}")]
    if not own:
        return "Not run: another tool call in this turn had invalid arguments."
    return "Invalid arguments: " + "; ".join(own)
