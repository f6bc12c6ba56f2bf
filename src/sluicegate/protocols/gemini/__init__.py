"""The Google Gemini API (generativelanguage ``v1beta``) wire format, as an upstream.

Pure translation, no I/O. Gateway -> Gemini: ``generate_request`` (with the
JSON Schema conversion in ``schema``); Gemini -> gateway: ``generate_response``
(whole answers and SSE streams) and ``errors``; ``embed``: both directions of
``batchEmbedContents``.
"""

from sluicegate.protocols.gemini.embed import decode_embed_response, encode_embed_request
from sluicegate.protocols.gemini.errors import GeminiError, error_from_body
from sluicegate.protocols.gemini.generate_request import (
    FOREIGN_THOUGHT_SIGNATURE,
    encode_generate_request,
)
from sluicegate.protocols.gemini.generate_response import (
    GenerateStreamDecoder,
    decode_generate_response,
    usage_of,
)

__all__ = [
    "FOREIGN_THOUGHT_SIGNATURE",
    "GeminiError",
    "GenerateStreamDecoder",
    "decode_embed_response",
    "decode_generate_response",
    "encode_embed_request",
    "encode_generate_request",
    "error_from_body",
    "usage_of",
]
