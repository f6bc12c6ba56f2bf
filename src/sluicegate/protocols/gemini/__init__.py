"""The Google Gemini API (generativelanguage ``v1beta``) wire format, as an upstream."""

from sluicegate.protocols.gemini.generate import (
    FOREIGN_THOUGHT_SIGNATURE,
    GeminiError,
    GenerateStreamDecoder,
    decode_embed_response,
    decode_generate_response,
    encode_embed_request,
    encode_generate_request,
    error_from_body,
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
