"""The export's two formats, as JSON Lines written a page of rows at a time.

``sft`` (OpenAI's chat fine-tuning format): one ``{"messages": [...]}`` per
answered request, the conversation asked and then the answer (with ``tools``
when the request offered tools).

``dpo`` (OpenAI's preference fine-tuning format): ``{"input": {"messages":
[...]}, "preferred_output": [one assistant message], "non_preferred_output":
[one]}``, for every two answers to the same input (the same conversation, by a
hash of its canonical JSON) that a feedback of the same name scored
differently, the higher score preferred; and for every answer with a feedback
``correction``, the correction preferred over the answer.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from sluicegate.bodies.messages import is_truncated
from sluicegate.datasets.queries import (
    Database,
    answered_page,
    bodies_of,
    corrections_page,
    rated_page,
)

Format = Literal["sft", "dpo"]
# Rows per query: enough to amortise a round trip, few enough to stay small in memory.
PAGE = 200


@dataclass(frozen=True, slots=True)
class Filter:
    tenant_id: str
    feedback: str | None = None  # only requests with a feedback of this name
    min_value: float | None = None  # ... scored at least this (sft; dpo: the preferred)
    since: float | None = None  # only requests from this instant (unix seconds)


async def export_lines(db: Database, format: Format, where: Filter) -> AsyncIterator[bytes]:
    """The export, a chunk of lines (each ending in a newline) at a time."""
    pages = _sft(db, where) if format == "sft" else _dpo(db, where)
    async for lines in pages:
        if lines:
            yield b"".join(orjson.dumps(line) + b"\n" for line in lines)


def _load(value: Any) -> Any:
    """A JSON column: text in SQLite and from asyncpg's jsonb alike."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _tools(request: dict[str, Any], into: dict[str, Any]) -> dict[str, Any]:
    if request.get("tools"):
        into["tools"] = request["tools"]
    return into


async def _sft(db: Database, where: Filter) -> AsyncIterator[list[dict[str, Any]]]:
    after: tuple[float, str] | None = None
    while True:
        rows = await db.fetch(*answered_page(
            where.tenant_id, since=where.since, feedback=where.feedback,
            min_value=where.min_value, after=after, limit=PAGE,
        ))  # fmt: skip
        lines = []
        for _ts, _id, request_json, answer_json in rows:
            request, answer = _load(request_json), _load(answer_json)
            if is_truncated(request) or is_truncated(answer):
                continue
            lines.append(_tools(request, {"messages": [*request["messages"], answer]}))
        yield lines
        if len(rows) < PAGE:
            return
        after = (rows[-1][0], rows[-1][1])


def input_hash(request: dict[str, Any]) -> bytes:
    """The conversation's identity: a digest of its canonical JSON (keys sorted)."""
    canonical = orjson.dumps(request, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=16).digest()


async def _dpo(db: Database, where: Filter) -> AsyncIterator[list[dict[str, Any]]]:
    # Pass 1 keeps only (input, name) -> [(score, id)]: bytes per rated answer, not bodies.
    rated: dict[tuple[bytes, str], list[tuple[float, str]]] = defaultdict(list)
    after: tuple[str, str] | None = None
    while True:
        rows = await db.fetch(*rated_page(
            where.tenant_id, since=where.since, feedback=where.feedback, after=after,
            limit=PAGE,
        ))  # fmt: skip
        for id, name, score, request_json in rows:
            request = _load(request_json)
            if not is_truncated(request):
                rated[input_hash(request), name].append((float(score), id))
        if len(rows) < PAGE:
            break
        after = (rows[-1][0], rows[-1][1])
    # Pass 2: each input's pairs, its bodies read when its turn comes.
    for answers in rated.values():
        pairs = [
            (better, worse)
            for better in answers
            for worse in answers
            if better[0] > worse[0]
            and (where.min_value is None or better[0] >= where.min_value)
        ]
        if not pairs:
            continue
        ids = sorted({id for pair in pairs for _, id in pair})
        found = {
            id: (_load(req), _load(ans))
            for id, req, ans in await db.fetch(*bodies_of(where.tenant_id, ids))
        }
        lines = []
        for (_, better), (_, worse) in pairs:
            if better in found and worse in found and not is_truncated(found[better][1]):
                request, preferred = found[better]
                lines.append(_pair(request, preferred, found[worse][1]))
        yield lines
    async for lines in _corrections(db, where):
        yield lines


def _pair(request: dict[str, Any], preferred: Any, non_preferred: Any) -> dict[str, Any]:
    return {
        "input": _tools(request, {"messages": request["messages"]}),
        "preferred_output": [preferred],
        "non_preferred_output": [non_preferred],
    }


async def _corrections(db: Database, where: Filter) -> AsyncIterator[list[dict[str, Any]]]:
    after: tuple[float, str] | None = None
    while True:
        rows = await db.fetch(*corrections_page(
            where.tenant_id, since=where.since, feedback=where.feedback, after=after,
            limit=PAGE,
        ))  # fmt: skip
        lines = []
        for _ts, _id, request_json, answer_json, correction in rows:
            request, answer = _load(request_json), _load(answer_json)
            if is_truncated(request) or is_truncated(answer):
                continue
            better = {"role": "assistant", "content": correction}
            lines.append(_pair(request, better, answer))
        yield lines
        if len(rows) < PAGE:
            return
        after = (rows[-1][0], rows[-1][1])
