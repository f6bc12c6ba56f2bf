"""Local token estimates, for when an upstream reports no usage.

Exact tokenizers are model-specific and their vocabularies are downloaded at
run time, which a self-hosted gateway cannot rely on. Roughly four characters
per token holds for English across current BPE tokenizers; records counted this
way are marked ``estimated`` in the ledger.
"""

from __future__ import annotations

from sluicegate.canonical.chat import ChatRequest, ImagePart, TextPart
from sluicegate.canonical.embeddings import EmbeddingRequest

# Per-message framing tokens (role markers) that chat templates add.
_MESSAGE_OVERHEAD = 4
# A typical low-detail image; providers bill 85 to ~1,600 depending on size.
_IMAGE_TOKENS = 85


def estimate_text_tokens(text: str) -> int:
    return (len(text) + 3) // 4 if text else 0


def estimate_prompt_tokens(request: ChatRequest) -> int:
    total = 0
    for message in request.messages:
        total += _MESSAGE_OVERHEAD
        for part in message.content:
            if isinstance(part, TextPart):
                total += estimate_text_tokens(part.text)
            elif isinstance(part, ImagePart):
                total += _IMAGE_TOKENS
        for call in message.tool_calls:
            total += estimate_text_tokens(call.name) + estimate_text_tokens(call.arguments)
    for tool in request.tools:
        total += estimate_text_tokens(tool.name) + estimate_text_tokens(tool.description or "")
        total += estimate_text_tokens(str(tool.parameters))
    return total


def estimate_input_tokens(request: ChatRequest | EmbeddingRequest) -> int:
    """The prompt of a chat call, or the text inputs of an embeddings call."""
    if isinstance(request, ChatRequest):
        return estimate_prompt_tokens(request)
    return sum(estimate_text_tokens(i) for i in request.inputs if isinstance(i, str))


DEFAULT_OUTPUT_CAP = 4096
"""The answer's length assumed for a reservation when the client sets no max_tokens."""


def estimate_reservation(request: ChatRequest | EmbeddingRequest) -> tuple[int, int]:
    """``(prompt, output)`` tokens a request may use at most, as limits and quotas
    reserve them: the estimated prompt, and ``max_tokens`` (or
    ``DEFAULT_OUTPUT_CAP``) for each of its ``n`` answers."""
    prompt = estimate_input_tokens(request)
    if not isinstance(request, ChatRequest):
        return prompt, 0
    return prompt, (request.max_tokens or DEFAULT_OUTPUT_CAP) * max(1, request.n)
