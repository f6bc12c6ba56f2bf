"""A chat call and its complete answer, independent of any wire format."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from sluicegate.canonical.events import Usage
from sluicegate.canonical.prompt_ref import PromptRef

Role = Literal["system", "user", "assistant", "tool"]


class TextPart(msgspec.Struct, tag="text", kw_only=True):
    text: str
    # Anthropic prompt-caching breakpoint ({"type": "ephemeral", ...}); other
    # formats ignore it.
    cache_control: dict[str, Any] | None = None


class ImagePart(msgspec.Struct, tag="image", kw_only=True):
    """An image given either by URL or inline as base64 data.

    OpenAI sends inline images as ``data:`` URLs, Anthropic and Gemini as a
    media type plus base64 data; both shapes are kept so that a round trip
    through one protocol is lossless and a cross-protocol one is possible.
    """

    url: str | None = None
    media_type: str | None = None
    data: str | None = None
    detail: str | None = None

    def as_data(self) -> tuple[str, str] | None:
        """Return ``(media_type, base64_data)`` for inline images, also from a data URL."""
        if self.data is not None:
            return self.media_type or "image/png", self.data
        if self.url and self.url.startswith("data:"):
            header, _, payload = self.url.partition(",")
            media_type = header[5:].split(";", 1)[0] or "image/png"
            return media_type, payload
        return None

    def as_url(self) -> str:
        """Return a URL for the image, building a data URL for inline images."""
        if self.url is not None:
            return self.url
        return f"data:{self.media_type or 'image/png'};base64,{self.data or ''}"


ContentPart = TextPart | ImagePart


class ToolCall(msgspec.Struct, kw_only=True):
    id: str
    name: str
    # JSON text exactly as the model produced it; parsing it is the client's job.
    arguments: str


class Message(msgspec.Struct, kw_only=True):
    role: Role
    content: list[ContentPart] = []
    tool_calls: list[ToolCall] = []
    # For role "tool": the call this message answers.
    tool_call_id: str | None = None
    # For a tool result that reports a failure (Anthropic ``is_error``).
    is_error: bool = False
    name: str | None = None

    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


class Tool(msgspec.Struct, kw_only=True):
    name: str
    description: str | None = None
    parameters: dict[str, Any] = {}
    strict: bool | None = None


class ToolChoice(msgspec.Struct, kw_only=True):
    """``auto``, ``none``, ``required`` (any tool) or ``tool`` (the one named)."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None
    # False forbids several tool calls in one turn.
    parallel: bool | None = None


class ChatRequest(msgspec.Struct, kw_only=True):
    model: str
    messages: list[Message]
    stream: bool = False
    # Ask the upstream to report usage at the end of a stream.
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = []
    n: int = 1
    seed: int | None = None
    user: str | None = None
    tools: list[Tool] = []
    tool_choice: ToolChoice | None = None
    # OpenAI ``response_format`` verbatim ({"type": "json_schema", ...}).
    response_format: dict[str, Any] | None = None
    # A stored prompt to render before the messages (resolved, then cleared, by the
    # prompt stage: it never reaches an upstream).
    prompt: PromptRef | None = None
    # Fields of the ingress protocol that have no canonical meaning, kept so a
    # same-protocol upstream receives them unchanged: {"openai": {...}}.
    extra: dict[str, dict[str, Any]] = {}

    def system_text(self) -> str:
        return "\n\n".join(m.text() for m in self.messages if m.role == "system")


class Choice(msgspec.Struct, kw_only=True):
    index: int
    message: Message
    finish_reason: str | None


class ChatResponse(msgspec.Struct, kw_only=True):
    id: str
    model: str
    created: int
    choices: list[Choice]
    usage: Usage | None = None
