"""The built-in ``echo`` provider: answers by repeating the last user message.

It lets a new user ``curl`` the gateway with no upstream account, and gives the
test suite a provider with no network at all. Usage is counted locally.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator

from sluicegate.canonical import (
    ChatRequest,
    EmbeddingRequest,
    EmbeddingsResult,
    Event,
    Finish,
    Start,
    TextDelta,
    Usage,
)
from sluicegate.canonical.tokens import estimate_prompt_tokens, estimate_text_tokens
from sluicegate.providers.base import Provider
from sluicegate.providers.deadlines import Deadlines

_EMBEDDING_DIMENSIONS = 8


class EchoProvider(Provider):
    def chat(
        self, request: ChatRequest, model: str, deadlines: Deadlines | None = None
    ) -> AsyncIterator[Event]:
        return self._chat(request, model)

    async def _chat(self, request: ChatRequest, model: str) -> AsyncIterator[Event]:
        reply = _last_user_text(request) or "(echo: no user text)"
        words = reply.split(" ")
        budget = request.max_tokens
        finish = "stop"
        if budget is not None and estimate_text_tokens(reply) > budget:
            reply = reply[: budget * 4]
            finish = "length"
            words = reply.split(" ")
        yield Start(
            id="chatcmpl-echo-" + os.urandom(8).hex(), model=model, created=int(time.time())
        )
        for n in range(max(1, request.n)):
            if request.stream:
                for i, word in enumerate(words):
                    yield TextDelta(text=word if i == 0 else " " + word, index=n)
                    await asyncio.sleep(0)  # let other requests in, as a real stream would
            else:
                yield TextDelta(text=reply, index=n)
            yield Finish(reason=finish, index=n)  # type: ignore[arg-type]
        yield Usage(
            input_tokens=estimate_prompt_tokens(request),
            output_tokens=estimate_text_tokens(reply) * max(1, request.n),
            estimated=True,
        )

    async def embed(
        self, request: EmbeddingRequest, model: str, deadlines: Deadlines | None = None
    ) -> AsyncIterator[Event]:
        # A deterministic vector per input: equal texts embed equally, which is
        # all the tests and a smoke check need.
        vectors = []
        tokens = 0
        for item in request.inputs:
            text = item if isinstance(item, str) else " ".join(map(str, item))
            tokens += estimate_text_tokens(text)
            digest = hashlib.sha256(text.encode()).digest()
            size = request.dimensions or _EMBEDDING_DIMENSIONS
            vectors.append([round(digest[i % len(digest)] / 255.0, 6) for i in range(size)])
        yield EmbeddingsResult(model=model, vectors=vectors)
        yield Usage(input_tokens=tokens, estimated=True)


def _last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.text()
    return ""
