"""The OpenAI Chat Completions and Embeddings wire format, both directions.

``chat_ingress``: the gateway as an OpenAI server (client requests in, answers
and SSE chunks out). ``chat_upstream``: the gateway as an OpenAI client
(requests out to an OpenAI-compatible upstream, answers in as events).
"""

from sluicegate.protocols.openai.chat_ingress import (
    ChatStreamEncoder,
    decode_chat_request,
    decode_embeddings_request,
    encode_chat_response,
    encode_embeddings_response,
    encode_error,
    encode_models,
)
from sluicegate.protocols.openai.chat_upstream import (
    ChatStreamDecoder,
    decode_chat_response,
    decode_embeddings_response,
    encode_chat_request,
    encode_embeddings_request,
)

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
