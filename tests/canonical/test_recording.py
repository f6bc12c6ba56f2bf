"""Recording an answer for a store with a size bound: given up as soon as it cannot fit."""

from __future__ import annotations

import msgspec

from sluicegate.canonical import Finish, Start, TextDelta, ToolCallDelta, Usage
from sluicegate.canonical.codec import named_events
from sluicegate.canonical.recording import Recording


def test_an_answer_within_the_bound_is_kept_whole() -> None:
    events = [
        Start(id="c1", model="m"),
        TextDelta(text="héllo " * 10),
        Finish(reason="stop"),
        Usage(input_tokens=3, output_tokens=2),
    ]
    size = len(msgspec.json.encode(named_events(events)))
    recording = Recording(max_bytes=size)
    for event in events:
        recording.add(event)
    assert recording.events == events


def test_text_and_tool_arguments_past_the_bound_give_the_recording_up_at_once() -> None:
    recording = Recording(max_bytes=100)
    recording.add(Start(id="c1", model="m"))
    recording.add(TextDelta(text="x" * 60))
    assert recording.events is not None
    recording.add(ToolCallDelta(call_index=0, id="t1", name="f", arguments="y" * 41))
    assert recording.events is None  # nothing more is held for a store that would refuse it
    recording.add(TextDelta(text="z" * 1000))
    assert recording.events is None and recording.chars == 1101
