"""What storage.bodies costs a request: the capture on the request path, the redaction
off it (in the ledger shipper's worker thread), and the bytes stored.

In process, with bench/instructions.py's question and the nginx upstream's canned
answer, and a longer turn of a conversation (history resent, as chats do):

    PYTHONPATH=src .venv/bin/python bench/bodies_cost.py [--n 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson

from sluicegate.bodies.capture import Capture
from sluicegate.bodies.redact import redact_bodies
from sluicegate.canonical import ChatRequest, Message, TextPart
from sluicegate.canonical.events import Event, Finish, Start, TextDelta, Usage
from sluicegate.pipeline import Request, Stream
from sluicegate.state.ledger.record import Bodies

ANSWER = "Hello! How can I help you today?"


def short() -> ChatRequest:
    return ChatRequest(model="fast", messages=[
        Message(role="system", content=[TextPart(text="You are a helpful assistant.")]),
        Message(role="user", content=[TextPart(text="Say hello in one short sentence, please.")]),
    ])  # fmt: skip


def long() -> ChatRequest:
    turns = [Message(role="system", content=[TextPart(text="You are a helpful assistant.")])]
    for n in range(10):
        turns.append(Message(role="user", content=[TextPart(
            text=f"Turn {n}: I am Maria Garcia, my address is maria.garcia{n}@example.com; "
            "please summarise the order history below and draft a reply. " * 3)]))
        turns.append(Message(role="assistant", content=[TextPart(text="Certainly. " * 40)]))
    return ChatRequest(model="fast", messages=turns)


async def capture_us(body: ChatRequest, n: int) -> float:
    """The Capture stage's own work per request: watching the events, building the bodies."""
    stage = Capture("full")
    events: list[Event] = [Start(id="c", model="m", created=0), TextDelta(text=ANSWER),
              Finish(reason="stop"), Usage(input_tokens=12, output_tokens=9)]  # fmt: skip

    async def upstream(request: Request) -> Stream:
        return Stream.replay(events, request.outcome)

    async def one(watch: bool) -> None:
        request = Request.of(body)
        stream = await (stage(request, upstream) if watch else upstream(request))
        async for _ in stream:
            pass

    # The best of 5 rounds each, interleaved: a shared machine's noise only adds time.
    timings: dict[bool, float] = {False: float("inf"), True: float("inf")}
    for _ in range(5):
        for watch in (False, True):
            start = time.perf_counter()
            for _ in range(n):
                await one(watch)
            timings[watch] = min(timings[watch], (time.perf_counter() - start) / n * 1e6)
    return timings[True] - timings[False]


def redact_us(bodies: Bodies, n: int) -> float:
    """Redaction per request of a conversation whose history was read before (one new turn)."""
    redact_bodies(bodies)  # load the detector
    fresh = []
    for i in range(n):
        marked = dict(bodies.request)
        history: list[object] = list(bodies.request["messages"])  # type: ignore[call-overload]
        marked["messages"] = [*history, {"role": "user", "content": str(i)}]
        fresh.append(Bodies(mode="redacted", request=marked, answer=bodies.answer))
    start = time.perf_counter()
    for b in fresh:
        redact_bodies(b)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=2000)
    n = p.parse_args().n
    from sluicegate.bodies.messages import assistant, conversation

    for label, body in (("short question", short()), ("20-turn conversation", long())):
        bodies = Bodies(
            mode="redacted", request=conversation(body),
            answer=assistant(Message(role="assistant", content=[TextPart(text=ANSWER)])),
        )
        size = len(orjson.dumps(bodies.request)) + len(orjson.dumps(bodies.answer))
        on_path = asyncio.run(capture_us(body, n))
        first = time_first(bodies, max(20, n // 20))
        again = redact_us(bodies, max(20, n // 20))
        print(f"bench: bodies, {label} ({size} bytes of JSON):")
        print(f"  full and redacted, on the request path (capture): {on_path:.1f} us a request")
        print(f"  redacted, off the path (shipper thread): {first:.0f} us a request with new "
              f"texts, {again:.0f} us with its history already read")


def time_first(bodies: Bodies, n: int) -> float:
    """Redaction of texts never seen before (no remembered findings)."""
    from sluicegate.detectors.entities import PII_ENTITIES
    from sluicegate.detectors.scans import PiiScan

    scan = PiiScan(PII_ENTITIES)
    redact_bodies(bodies, scan)
    start = time.perf_counter()
    for _ in range(n):
        redact_bodies(bodies, scan)
    return (time.perf_counter() - start) / n * 1e6


if __name__ == "__main__":
    main()
