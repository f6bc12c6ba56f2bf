"""The OpenTelemetry GenAI conventions' names for what the gateway knows.

One table per vocabulary, shared by the metrics and the spans so that both
say the same thing: a provider type of the config as ``gen_ai.provider.name``
(the conventions' well-known values, not the deprecated ``gen_ai.system``),
an operation as ``gen_ai.operation.name``.
"""

from __future__ import annotations

# Provider types (config ``providers[].type``) as gen_ai.provider.name. ``echo`` has
# no well-known value: a custom one, named for the gateway that answers it.
PROVIDER_NAMES: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "azure": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
    "echo": "sluicegate.echo",
}


def provider_name(provider_type: str) -> str:
    """``gen_ai.provider.name`` for a provider type (a custom type passes as it is:
    the config's set of types is bounded)."""
    return PROVIDER_NAMES.get(provider_type, provider_type)
