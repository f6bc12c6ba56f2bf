"""The Anthropic Messages wire format, both directions.

``messages_ingress``: the gateway as an Anthropic server (clients' requests in,
answers and streams out). ``messages_upstream``: the gateway as an Anthropic
client (requests out, answers and streams in).
"""

from sluicegate.protocols.anthropic.messages_ingress import (
    MessagesStreamEncoder,
    decode_messages_request,
    encode_error,
    encode_messages_response,
)
from sluicegate.protocols.anthropic.messages_upstream import (
    DEFAULT_MAX_TOKENS,
    MessagesStreamDecoder,
    decode_messages_response,
    encode_messages_request,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "MessagesStreamDecoder",
    "MessagesStreamEncoder",
    "decode_messages_request",
    "decode_messages_response",
    "encode_error",
    "encode_messages_request",
    "encode_messages_response",
]
