"""A fake Gemini API upstream (generativelanguage ``v1beta``), in process.

    async with GeminiUpstream() as fake:
        config = ProviderConfig(name="gemini", type="gemini", base_url=fake.url,
                                api_key=fake.api_key)
        fake.script(Reply(body=generate_response("Hi!")))      # optional
        ...                                                    # call the gateway
        sent = fake.requests[0]
        assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
        assert sent.json["contents"][0]["role"] == "user"

It speaks the real wire format, byte for byte where it matters:

- ``POST /v1beta/models/{model}:generateContent`` answers one
  GenerateContentResponse, pretty-printed as Google's frontends do;
- ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` answers
  ``text/event-stream`` with ``data: {...}`` frames separated by CRLF CRLF, each
  frame a whole GenerateContentResponse chunk with cumulative
  ``usageMetadata``, ``modelVersion`` and ``responseId`` (without ``alt=sse``
  it answers a JSON array, like the real API);
- ``POST /v1beta/models/{model}:batchEmbedContents`` answers ``{"embeddings":
  [{"values": [...]}]}``;
- failures are ``{"error": {"code", "message", "status", "details"}}``; a wrong
  ``x-goog-api-key`` gets the real 400 ``API_KEY_INVALID``, a missing one 403.

Unscripted calls get a default answer: chat echoes the last user text (streamed
word by word), embeddings are deterministic vectors. :meth:`GeminiUpstream.script`
queues :class:`Reply` objects, used in order, for canned answers and faults:
status + body, ``Retry-After``, a slow first byte (``delay_s``), a stream that
ends early (``end_after``) or drops the connection (``abort_after``), invalid
JSON (``raw`` or a ``str`` chunk), and ``pause_after`` + :meth:`resume` to
check that the gateway forwards events before the stream is over.
Every request is recorded in :attr:`GeminiUpstream.requests`.

The payload builders (:func:`generate_response`, :func:`stream_chunks`,
:func:`error_body`) and constants follow Google's documented and captured
examples; see the sources named next to each.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fakes.base import LocalServer

MODEL_VERSION = "gemini-2.5-flash"

# --------------------------------------------------------------------------
# Documented and captured payloads
# --------------------------------------------------------------------------

# Captured verbatim from the live gemini-2.5-flash API (streamGenerateContent
# ?alt=sse, a tool declared, a simple user message): a text frame, then a
# terminal frame with no parts, finishReason STOP and the final usage.
CAPTURED_TEXT_STREAM = (
    b'data: {"candidates": [{"content": {"parts": [{"text": "Four."}],"role": "model"},'
    b'"index": 0}],"usageMetadata": {"promptTokenCount": 51,"candidatesTokenCount": 2,'
    b'"totalTokenCount": 53},"modelVersion": "gemini-2.5-flash",'
    b'"responseId": "ag4pavQTzLrj4Q-XkKnZBA"}\r\n\r\n'
    b'data: {"candidates": [{"content": {"role": "model"},"finishReason": "STOP","index": 0}],'
    b'"usageMetadata": {"promptTokenCount": 51,"candidatesTokenCount": 2,"totalTokenCount": 53},'
    b'"modelVersion": "gemini-2.5-flash","responseId": "ag4pavQTzLrj4Q-XkKnZBA"}\r\n\r\n'
)

# Captured from gemini-2.5-flash with a getWeather tool: one whole function
# call with its thought signature, finishReason STOP, thinking tokens counted.
CAPTURED_SIGNATURE = (
    "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbdMdfpmNpgBwplAXLI2nyA/pIFcnZwFm+7WFmLyMd8R4"
    "DXwsjqaeAAfCKo5G1xIkbAlJp8VevnIWRZ9SyMmiiqmY6linicJ5dg3rVLHM9wwSQ8FEvAxgO3Ave1rRlh/SaJJFga"
    "1B9dMG3/N47GFqwK+gEBcsjafObYgvlABo1phEN1CKDzH7WTmK7zPW4uq3XjeK4/u2gfFDTdvuYqLJq9vo4GQmore5"
    "2mUb5CVHCXZlE0njQNbI9JrW1lFh5YL3V/mDA8gijgklVhHyYm6czsDLc02CDlEB+kFbLWwBu8XRLXG8o7puiF55Dh"
    "moNo1zjhTUUmoHMIXlj5x8Gc7CG1A7anQfgt4i/WlSY3OF3+/wDw5ErrwUeFzf70jmZlJ35qkNM+vw3lCJSFl6G5il"
    "Zx8M2Fmem9TQsWnOyuwe2IS2wUYyz2WRuNTftt3oEaCFjAujlQKtnvEVFUhb9215sQ7/95rKH94ycby+/FCrwBAXLI"
    "2ny4QDIhPlsiu+PON0umjJ86dmZOOE1B3rcYiN0xtyYy8FzQkcldwKdmsCowarVD1U94laHUB3HZ+wgEJMLjya8Ail"
    "dnNtvt5LBQ9wiCy0wFzRCvEtvAkC/nn0c6ciudegTiyoyWy8W60Bnzu6L0pmy7N2J+sIQaT9VQ1UZxxjLfHCSgcygS"
    "DaOdRJm5xcUYlXi5FtRfIzJNCla5bxx/jwFpbNDvujxv/Pnndju9ScUZJac8b/rnybo="
)
CAPTURED_FUNCTION_CALL_STREAM = (
    'data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "getWeather",'
    '"args": {"location": "Tokyo"}},"thoughtSignature": "' + CAPTURED_SIGNATURE + '"}],'
    '"role": "model"},"finishReason": "STOP","index": 0,'
    '"finishMessage": "Model generated function call(s)."}],'
    '"usageMetadata": {"promptTokenCount": 83,"candidatesTokenCount": 14,"totalTokenCount": 201,'
    '"promptTokensDetails": [{"modality": "TEXT","tokenCount": 83}],"thoughtsTokenCount": 104},'
    '"modelVersion": "gemini-2.5-flash","responseId": "qpc2afWVFJK4vr0Pq6WiyAU"}\r\n\r\n'
).encode()


def error_body(code: int, status: str, message: str, details: Sequence[Any] = ()) -> dict[str, Any]:
    """Google's error body (google.rpc.Status as JSON)."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return {"error": error}


def retry_info(delay: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


# The free-tier quota answer: QuotaFailure, Help and RetryInfo details.
RATE_LIMITED = error_body(
    429,
    "RESOURCE_EXHAUSTED",
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
    [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{
                "quotaMetric":
                    "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                "quotaValue": "10",
            }],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{"description": "Learn more about Gemini API quotas",
                       "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}],
        },
        retry_info("37s"),
    ],
)
# What the real API answers to a wrong key: 400, not 401.
API_KEY_INVALID = error_body(
    400,
    "INVALID_ARGUMENT",
    "API key not valid. Please pass a valid API key.",
    [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
        {
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": "API key not valid. Please pass a valid API key.",
        },
    ],
)
MISSING_KEY = error_body(
    403,
    "PERMISSION_DENIED",
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API.",
)
INVALID_ARGUMENT = error_body(
    400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified\n"
)
CONTEXT_TOO_LONG = error_body(
    400,
    "INVALID_ARGUMENT",
    "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
)
MODEL_NOT_FOUND = error_body(
    404,
    "NOT_FOUND",
    "models/gemini-0.0-nope is not found for API version v1beta, or is not supported for "
    "generateContent. Call ListModels to see the list of available models and their supported "
    "methods.",
)
INTERNAL = error_body(
    500,
    "INTERNAL",
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
)
OVERLOADED = error_body(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")


def usage_metadata(
    prompt: int, candidates: int | None, *, thoughts: int = 0, cached: int = 0
) -> dict[str, Any]:
    """``usageMetadata`` as Gemini sends it: zero counts are left out."""
    total = prompt + (candidates or 0) + thoughts
    meta: dict[str, Any] = {"promptTokenCount": prompt}
    if candidates is not None:
        meta["candidatesTokenCount"] = candidates
    meta["totalTokenCount"] = total
    if cached:
        meta["cachedContentTokenCount"] = cached
    meta["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    if cached:
        meta["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    return meta


def function_call_part(name: str, args: dict[str, Any], *, signature: str | None = None,
                       call_id: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"name": name, "args": args}
    if call_id is not None:
        call["id"] = call_id
    part: dict[str, Any] = {"functionCall": call}
    if signature is not None:
        part["thoughtSignature"] = signature
    return part


def generate_response(
    text: str | None = "AI learns patterns from data to make predictions.",
    *,
    function_calls: Sequence[dict[str, Any]] = (),
    finish_reason: str = "STOP",
    prompt_tokens: int = 8,
    candidates_tokens: int = 12,
    thoughts_tokens: int = 0,
    cached_tokens: int = 0,
    model_version: str = MODEL_VERSION,
    response_id: str = "mOEhaMGJHtCtz7IPoNWe2Qo",
) -> dict[str, Any]:
    """A ``generateContent`` answer shaped like the one in Google's REST docs.

    ``function_calls`` are parts from :func:`function_call_part`.
    """
    parts: list[dict[str, Any]] = [{"text": text}] if text is not None else []
    parts.extend(function_calls)
    candidate: dict[str, Any] = {
        "content": {"parts": parts, "role": "model"},
        "finishReason": finish_reason,
        "avgLogprobs": -0.0731,
    }
    return {
        "candidates": [candidate],
        "usageMetadata": usage_metadata(
            prompt_tokens, candidates_tokens, thoughts=thoughts_tokens, cached=cached_tokens
        ),
        "modelVersion": model_version,
        "responseId": response_id,
    }


def stream_chunks(
    pieces: Sequence[str],
    *,
    function_calls: Sequence[dict[str, Any]] = (),
    finish_reason: str = "STOP",
    prompt_tokens: int = 8,
    thoughts_tokens: int = 0,
    cached_tokens: int = 0,
    model_version: str = MODEL_VERSION,
    response_id: str = "IZI2acSKMoWl0-kPmYj2yQc",
) -> list[dict[str, Any]]:
    """The chunks of a ``streamGenerateContent`` answer, as captured from gemini-2.5-flash.

    One chunk per text piece, usage cumulative on each, the finishReason on the
    last piece (function calls come whole in the last chunk).
    """
    chunks: list[dict[str, Any]] = []
    items: list[list[dict[str, Any]]] = [[{"text": piece}] for piece in pieces]
    if function_calls:
        items.append(list(function_calls))
    if not items:
        items.append([])
    for n, parts in enumerate(items, start=1):
        content: dict[str, Any] = {"parts": parts, "role": "model"} if parts else {"role": "model"}
        candidate: dict[str, Any] = {"content": content}
        if n == len(items):
            candidate["finishReason"] = finish_reason
        candidate["index"] = 0
        chunks.append({
            "candidates": [candidate],
            "usageMetadata": usage_metadata(
                prompt_tokens, 2 * n, thoughts=thoughts_tokens, cached=cached_tokens
            ),
            "modelVersion": model_version,
            "responseId": response_id,
        })
    return chunks


def blocked_prompt(reason: str = "SAFETY", *, prompt_tokens: int = 8) -> dict[str, Any]:
    """A prompt refused before generation: no candidates, only promptFeedback."""
    return {
        "promptFeedback": {
            "blockReason": reason,
            "safetyRatings": [
                {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
                {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "HIGH"},
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
                {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "NEGLIGIBLE"},
            ],
        },
        "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens},
        "modelVersion": MODEL_VERSION,
        "responseId": "blocked0000000000000000",
    }


def embed_response(vectors: Sequence[Sequence[float]]) -> dict[str, Any]:
    return {"embeddings": [{"values": list(v)} for v in vectors]}


def pretty(obj: Any) -> bytes:
    """A non-streamed body as Google's frontends format it (2-space indent)."""
    return json.dumps(obj, indent=2, ensure_ascii=False).encode()


def compact(obj: Any) -> bytes:
    """A stream chunk as Gemini formats it: ``": "`` after keys, no space after commas."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ": ")).encode()


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer, used by the next request whatever its endpoint.

    For chat, ``body`` answers ``generateContent`` and ``chunks`` a stream;
    when only one is given the other is derived from it. ``raw`` replaces the
    body bytes verbatim (for streams: the whole ``text/event-stream`` body);
    a ``str`` among ``chunks`` is sent verbatim as that frame's data.
    """

    status: int = 200
    body: Any = None
    chunks: list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    delay_s: float = 0.0  # before the status line: a slow first byte
    chunk_delay_s: float = 0.0  # between stream frames
    end_after: int | None = None  # end the stream cleanly after N frames (terminal missing)
    abort_after: int | None = None  # drop the connection after N frames
    pause_after: int | None = None  # hold the stream after N frames until resume()

    @classmethod
    def error(cls, body: dict[str, Any], *, retry_after: str | None = None) -> Reply:
        """An error answer; the status comes from the body's ``code``."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return cls(status=int(body["error"]["code"]), body=body, headers=headers)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    json: Any
    model: str
    action: str  # generateContent | streamGenerateContent | batchEmbedContents


_COMMON_HEADERS = {
    "Vary": "Origin, X-Origin, Referer",
    "Server": "scaffolding on HTTPServer2",
    "X-XSS-Protection": "0",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
}
_JSON_HEADERS = {"Content-Type": "application/json; charset=UTF-8", **_COMMON_HEADERS}
_SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Content-Disposition": "attachment",
    **_COMMON_HEADERS,
}


class GeminiUpstream(LocalServer):
    """An in-process Gemini API on 127.0.0.1; ``url`` ends in ``/v1beta``.

    ``api_key=None`` accepts any key (and none).
    """

    def __init__(self, *, api_key: str | None = "test-gemini-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._replies: list[Reply] = []
        self._resume = asyncio.Event()

    # -- lifecycle (start, close, async with: see LocalServer) ---------------

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1beta/models/{target}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)

    @property
    def url(self) -> str:
        """The provider ``base_url``: ``http://127.0.0.1:PORT/v1beta``."""
        return f"{self.origin}/v1beta"

    async def close(self) -> None:
        self._resume.set()  # never leave a paused stream hanging
        await super().close()

    # -- scripting ---------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue answers for the next requests, in order."""
        self._replies.extend(replies)

    def resume(self) -> None:
        """Let a stream held by ``pause_after`` go on."""
        self._resume.set()

    # -- handlers ----------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=404, body=b"<!DOCTYPE html>\n<html lang=en>\n  <title>Error 404"
                            b" (Not Found)!!1</title>\n", content_type="text/html")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["target"].rpartition(":")
        raw = await request.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        self.requests.append(RecordedRequest(
            method=request.method, path=request.path, query=dict(request.query),
            headers=dict(request.headers), raw=raw, json=payload, model=model, action=action,
        ))
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if self.api_key is not None and key != self.api_key:
            body = MISSING_KEY if key is None else API_KEY_INVALID
            return _json(body["error"]["code"], body)
        if action not in ("generateContent", "streamGenerateContent", "batchEmbedContents"):
            return _json(404, error_body(404, "NOT_FOUND", f"Method not found: {action}"))
        if payload is None:
            return _json(400, error_body(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))

        reply = self._replies.pop(0) if self._replies else self._default(action, payload)
        if reply.delay_s:
            await self._sleep(reply.delay_s)
        if reply.status >= 300 or action != "streamGenerateContent":
            if reply.raw is not None:
                return web.Response(status=reply.status, body=reply.raw,
                                    headers={**_JSON_HEADERS, **reply.headers})
            body = reply.body if reply.body is not None else _merge(reply.chunks or [])
            return _json(reply.status, body, reply.headers)
        return await self._stream(request, reply)

    async def _stream(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        chunks = reply.chunks if reply.chunks is not None else [reply.body]
        if request.query.get("alt") != "sse":  # the JSON-array flavour of the real API
            return _json(200, chunks, reply.headers)
        response = web.StreamResponse(status=200, headers={**_SSE_HEADERS, **reply.headers})
        await response.prepare(request)
        if reply.raw is not None:
            await response.write(reply.raw)
            await response.write_eof()
            return response
        for n, chunk in enumerate(chunks):
            if n == reply.end_after:
                break
            if n == reply.abort_after:
                assert request.transport is not None
                request.transport.abort()
                return response
            if n == reply.pause_after:
                self._resume.clear()
                await self._resume.wait()
            if n and reply.chunk_delay_s:
                await self._sleep(reply.chunk_delay_s)
            data = chunk.encode() if isinstance(chunk, str) else compact(chunk)
            await response.write(b"data: " + data + b"\r\n\r\n")
        await response.write_eof()
        return response

    # -- default answers ---------------------------------------------------

    def _default(self, action: str, payload: Any) -> Reply:
        if action == "batchEmbedContents":
            vectors = []
            for entry in payload.get("requests", []):
                text = "".join(p.get("text", "") for p in entry["content"]["parts"])
                size = entry.get("outputDimensionality") or 8
                digest = hashlib.sha256(text.encode()).digest()
                vectors.append([round(digest[i % 32] / 255.0 - 0.5, 6) for i in range(size)])
            return Reply(body=embed_response(vectors))
        text = _last_user_text(payload) or "Hello from the fake Gemini."
        words = text.split(" ")
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        prompt = max(1, len(json.dumps(payload.get("contents", []))) // 4)
        chunks = stream_chunks(pieces, prompt_tokens=prompt)
        body = generate_response(text, prompt_tokens=prompt, candidates_tokens=2 * len(pieces))
        return Reply(body=body, chunks=chunks)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    headers = {**_JSON_HEADERS, **(headers or {})}
    return web.Response(status=status, body=pretty(body), headers=headers)


def _last_user_text(payload: Any) -> str:
    for content in reversed(payload.get("contents") or []):
        if content.get("role", "user") == "user":
            texts = [p["text"] for p in content.get("parts", []) if "text" in p]
            if texts:
                return "".join(texts)
    return ""


def _merge(chunks: list[Any]) -> dict[str, Any]:
    """A whole answer from stream chunks (for a non-streamed call given ``chunks``)."""
    parts: list[Any] = []
    last: dict[str, Any] = {}
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        last = chunk
        for candidate in chunk.get("candidates", []):
            parts.extend(candidate.get("content", {}).get("parts", []))
    merged = dict(last)
    if last.get("candidates"):
        candidate = dict(last["candidates"][0])
        candidate["content"] = {"parts": parts, "role": "model"}
        merged["candidates"] = [candidate]
    return merged
