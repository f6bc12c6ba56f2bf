"""A stored answer, as the Idempotency-Key stores keep one, for their tests."""

from __future__ import annotations

from sluicegate.canonical import Finish, Start, TextDelta, Usage
from sluicegate.idempotency.store import StoredAnswer


def stored_answer(text: str = "Hello") -> StoredAnswer:
    return StoredAnswer(
        events=(
            Start(id="chatcmpl-1", model="gpt-4o-2024-08-06", created=1),
            TextDelta(text=text),
            Finish(reason="stop"),
            Usage(input_tokens=9, output_tokens=1),
        ),
        target="main/gpt-4o",
        alias="smart",
        request_id="req-1",
        attempts=1,
        first_event_s=0.25,
    )
