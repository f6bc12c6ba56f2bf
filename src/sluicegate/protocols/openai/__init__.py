"""The OpenAI Chat Completions and Embeddings wire format, both directions.

The gateway as an OpenAI server (client requests in, answers and SSE chunks
out): ``chat_request``, ``chat_response``, ``chat_stream``, ``embeddings``,
``models`` and ``errors``, with the request field readers they share in
``fields``. ``chat_upstream``: the gateway as an OpenAI client (requests out
to an OpenAI-compatible upstream, answers in as events).
"""

from sluicegate.protocols.openai.chat_request import decode_chat_request
from sluicegate.protocols.openai.chat_response import encode_chat_response
from sluicegate.protocols.openai.chat_stream import ChatStreamEncoder
from sluicegate.protocols.openai.chat_upstream import (
    ChatStreamDecoder,
    decode_chat_response,
    decode_embeddings_response,
    encode_chat_request,
    encode_embeddings_request,
)
from sluicegate.protocols.openai.embeddings import (
    decode_embeddings_request,
    encode_embeddings_response,
)
from sluicegate.protocols.openai.errors import encode_error
from sluicegate.protocols.openai.models import encode_models

__all__ = [
    "ChatStreamDecoder",
    "ChatStreamEncoder",
    "decode_chat_request",
    "decode_chat_response",
    "decode_embeddings_request",
    "decode_embeddings_response",
    "encode_chat_request",
    "encode_chat_response",
    "encode_embeddings_request",
    "encode_embeddings_response",
    "encode_error",
    "encode_models",
]
