"""The one internal model of an LLM call.

Every wire format (OpenAI, Anthropic, Gemini) is translated to and from these
types at the edges; every stage in between sees only them.
"""

from sluicegate.canonical.chat import (
    ChatRequest,
    ChatResponse,
    Choice,
    ContentPart,
    ImagePart,
    Message,
    Role,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from sluicegate.canonical.codes import ErrorCode
from sluicegate.canonical.embeddings import EmbeddingRequest, EmbeddingResponse
from sluicegate.canonical.errors import ErrorKind, GatewayError
from sluicegate.canonical.events import (
    EmbeddingsResult,
    Event,
    Finish,
    FinishReason,
    Start,
    TextDelta,
    ToolCallDelta,
    Usage,
    last_usage,
)
from sluicegate.canonical.prompt_ref import PromptRef, decode_prompt_ref

__all__ = [
    "ChatRequest",
    "ChatResponse",
    "Choice",
    "ContentPart",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "EmbeddingsResult",
    "ErrorCode",
    "ErrorKind",
    "Event",
    "Finish",
    "FinishReason",
    "GatewayError",
    "ImagePart",
    "Message",
    "PromptRef",
    "Role",
    "Start",
    "TextDelta",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "Usage",
    "decode_prompt_ref",
    "last_usage",
]
