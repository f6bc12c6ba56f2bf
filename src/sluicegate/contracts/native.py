"""How the provider that answered was held to the contract, for the client to see.

``native``: the provider was sent its own structured-output form (OpenAI's and
Azure's ``response_format``, Anthropic's ``output_config.format``, Gemini's
``responseSchema``) and constrains its decoding; ``instructed``: it has no such
switch for what was asked (Anthropic and JSON mode) and was told in the system
prompt; ``checked``: nothing was sent (the echo provider, or a contract that
comes from the alias alone), and the gateway's check is all there is. The
gateway checks the answer in every case.
"""

from __future__ import annotations

from typing import Any

HEADER = "x-sluicegate-structured-output"

_NATIVE = frozenset({"openai", "azure", "gemini"})


def enforcement(provider_type: str, response_format: dict[str, Any] | None) -> str:
    kind = response_format.get("type") if response_format is not None else None
    if kind not in ("json_schema", "json_object") or provider_type == "echo":
        return "checked"
    if provider_type in _NATIVE:
        return "native"
    if provider_type == "anthropic":
        return "native" if kind == "json_schema" else "instructed"
    return "checked"
