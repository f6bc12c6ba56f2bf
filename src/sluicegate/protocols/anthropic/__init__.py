"""The Anthropic Messages wire format, both directions.

The gateway as an Anthropic server (clients' requests in, answers and streams
out): ``messages_request``, ``messages_response``, ``messages_stream`` and
``errors``. ``messages_upstream``: the gateway as an Anthropic client
(requests out, answers and streams in).
"""

from sluicegate.protocols.anthropic.errors import encode_error
from sluicegate.protocols.anthropic.messages_request import decode_messages_request
from sluicegate.protocols.anthropic.messages_response import encode_messages_response
from sluicegate.protocols.anthropic.messages_stream import MessagesStreamEncoder
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
