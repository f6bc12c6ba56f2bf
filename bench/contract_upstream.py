"""A fake OpenAI upstream that answers each corpus case the way a flawed model would.

    async with ContractUpstream(cases, seed=1) as fake:
        provider base_url = fake.url                  # http://127.0.0.1:PORT/v1
        ... POST /v1/chat/completions, user message "case 17: ..."
        fake.calls[17]                                # how many calls case 17 took
        fake.answers[(17, 1)]                         # what its re-ask was answered with

It is the test suite's ``fakes.openai_upstream.OpenAIUpstream`` (the same
``chat.completion`` objects and SSE chunks, byte for byte, the same key and
body checks) with one change: the answer is not scripted but drawn with
``contract_damage.draw(case, attempt, seed)``. The case is the number after
``case`` in the first user message; the attempt is the number of assistant
turns already in ``messages`` (a re-ask adds the invalid answer as an
assistant turn and the validator's errors as a user turn), so a first call
is attempt 0 and the first re-ask attempt 1.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from contract_corpus import Case
from contract_damage import DEFAULT_SEED, Answer, draw

from fakes.openai_upstream import (
    OpenAIUpstream,
    Reply,
    completion,
    error_body,
    stream_frames,
)

CASE = re.compile(r"\bcase (\d+)\b")


def case_of(messages: list[dict[str, Any]]) -> int | None:
    """The case id named in the first user message, if any."""
    for message in messages:
        if message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else orjson.dumps(content).decode()
            found = CASE.search(text)
            return int(found.group(1)) if found else None
    return None


def attempt_of(messages: list[dict[str, Any]]) -> int:
    """Assistant turns already in the conversation: 0 on a first call."""
    return sum(1 for m in messages if m.get("role") == "assistant")


class ContractUpstream(OpenAIUpstream):
    """See the module docstring. ``cases``: the corpus by id."""

    def __init__(self, cases: Mapping[int, Case], seed: int = DEFAULT_SEED) -> None:
        self.cases = cases
        self.seed = seed
        self.calls: Counter[int] = Counter()
        self.answers: dict[tuple[int, int], Answer] = {}
        super().__init__()

    def answer(self, messages: list[dict[str, Any]]) -> tuple[int, Answer] | None:
        """The case and the draw for this conversation (None: no known case named)."""
        case_id = case_of(messages)
        if case_id is None or case_id not in self.cases:
            return None
        return case_id, draw(self.cases[case_id], attempt_of(messages), self.seed)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, request_id = await self._receive(request)
        rejected = self._check(request, body, request_id)
        if rejected is not None:
            return rejected
        data = orjson.loads(body)
        messages = data.get("messages")
        found = self.answer(messages) if isinstance(messages, list) else None
        if found is None:
            return self._json(400, error_body(400, "no 'case <id>' of the corpus in the first "
                                                   "user message"), request_id)
        case_id, answer = found
        self.calls[case_id] += 1
        self.answers[(case_id, attempt_of(messages))] = answer
        tokens = max(1, len(answer.text) // 4)
        reply = Reply(text=answer.text, finish_reason=answer.finish_reason,
                      usage={"prompt_tokens": 50, "completion_tokens": tokens,
                             "total_tokens": 50 + tokens,
                             "completion_tokens_details": {"reasoning_tokens": 0}})
        model = data.get("model") or ""
        if not data.get("stream"):
            return self._json(200, completion(reply, model), request_id)
        # Streamed as OpenAIUpstream streams: role chunk, content pieces, finish, usage.
        include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
        return await self._stream(request, stream_frames(reply, model, include_usage), request_id)
