"""The two wire formats clients speak, as tables of translation functions.

Handlers are written once against :class:`WireFormat`; which protocol a
request speaks decides only which table it uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sluicegate.canonical import ChatRequest, ChatResponse, Event, GatewayError
from sluicegate.protocols import anthropic, openai


class StreamEncoder(Protocol):
    def encode(self, event: Event) -> bytes: ...
    def end(self) -> bytes: ...
    def error(self, err: GatewayError) -> bytes: ...


@dataclass(frozen=True, slots=True)
class WireFormat:
    name: str
    decode_chat: Callable[[bytes], ChatRequest]
    encode_response: Callable[[ChatResponse], bytes]
    stream_encoder: Callable[[ChatRequest, str], StreamEncoder]
    encode_error: Callable[[GatewayError], bytes]


def _openai_stream(request: ChatRequest, request_id: str) -> StreamEncoder:
    return openai.ChatStreamEncoder(
        id=request_id,
        model=request.model,
        created=int(time.time()),
        include_usage=request.include_usage,
    )


def _anthropic_stream(request: ChatRequest, request_id: str) -> StreamEncoder:
    return anthropic.MessagesStreamEncoder(id=request_id, model=request.model)


OPENAI = WireFormat(
    name="openai",
    decode_chat=openai.decode_chat_request,
    encode_response=openai.encode_chat_response,
    stream_encoder=_openai_stream,
    encode_error=openai.encode_error,
)

ANTHROPIC = WireFormat(
    name="anthropic",
    decode_chat=anthropic.decode_messages_request,
    encode_response=anthropic.encode_messages_response,
    stream_encoder=_anthropic_stream,
    encode_error=anthropic.encode_error,
)


def for_path(path: str) -> WireFormat:
    """The format of a request known only by its path (no route matched, or none
    parsed): Anthropic's under ``/v1/messages``, else OpenAI's."""
    return ANTHROPIC if path.startswith("/v1/messages") else OPENAI
