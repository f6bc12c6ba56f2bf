"""Stage: the prompt a request names, rendered, and the system-prompt layers, composed.

Every chat request of a tenant gets one system prompt made in a fixed order:
the platform's layer, the tenant's layer, the prompt version's system
messages, then the request's own leading system messages. The prompt's other
messages (few-shot turns) come next, then the request's own. The prompt's
``params`` are defaults: the request's own values win. The prompt reference
is consumed here and never reaches an upstream; what was served is written
on the request as ``NAME@VERSION`` (the response header, the ledger record
and both cache keys read it there).

It runs before ResolveModel, since ``"model": "prompt:NAME"`` names the alias
through the prompt, and before Admit, so that the rendered prompt's tokens
count against the tenant's limits. A request that names no prompt, with no
layers configured, passes straight through.
"""

from __future__ import annotations

import msgspec

from sluicegate.canonical import ChatRequest, GatewayError, PromptRef
from sluicegate.canonical.prompt_ref import MODEL_PREFIX
from sluicegate.pipeline import Events, Next, Request
from sluicegate.prompts.registry import PromptRegistry
from sluicegate.prompts.render import compose, with_prompt
from sluicegate.prompts.version import PromptVersion


class ComposePrompt:
    def __init__(self, registry: PromptRegistry) -> None:
        self.registry = registry

    async def __call__(self, request: Request, call_next: Next) -> Events:
        body = request.body
        if not isinstance(body, ChatRequest):
            return await call_next(request)
        named = body.prompt is not None or body.model.startswith(MODEL_PREFIX)
        layers = request.runtime.layers
        tenant = request.tenant
        tenant_layer = tenant.prompt_layer if tenant is not None else None
        # Spelled out: this is every request's cost when no prompt and no layer is in use.
        if not named and layers.platform is None and tenant_layer is None:
            return await call_next(request)
        texts = layers.texts(tenant_layer)
        if not named:  # the layers alone
            messages = compose(texts, None, body.messages)
            composed = msgspec.structs.replace(body, messages=messages)
            return await call_next(request.replace(body=composed, client_body=body))
        version, alias, ref = self._resolve(request, body)
        rendered = version.render(ref.variables)
        return await call_next(
            request.replace(
                body=with_prompt(body, alias, texts, rendered), prompt=version.ref, client_body=body
            )
        )

    def _resolve(self, request: Request, body: ChatRequest) -> tuple[PromptVersion, str, PromptRef]:
        ref = body.prompt
        alias: str | None = body.model
        if body.model.startswith(MODEL_PREFIX):
            from_model = _ref_of_model(body.model)
            if ref is None:
                ref = from_model
            elif ref.name != from_model.name:
                raise GatewayError.invalid(
                    f"model names the prompt {from_model.name!r} and prompt.name "
                    f"{ref.name!r}; name one prompt",
                    param="prompt.name",
                )
            elif ref.label is None and ref.version is None:
                ref = msgspec.structs.replace(
                    ref, label=from_model.label, version=from_model.version
                )
            alias = None
        assert ref is not None
        tenant = request.tenant
        version = self.registry.resolve(
            ref.name,
            tenant_id=tenant.id if tenant is not None else None,
            label=ref.label,
            version=ref.version,
            max_staleness_s=request.runtime.config.prompts.max_staleness_s,
        )
        if alias is None:
            alias = version.document.model
            if alias is None:
                raise GatewayError.invalid(
                    f"prompt {version.ref} names no model: send the alias as model and the "
                    "prompt in the prompt field",
                    param="model",
                )
        return version, alias, ref


def _ref_of_model(model: str) -> PromptRef:
    """``prompt:NAME``, ``prompt:NAME@LABEL`` or ``prompt:NAME@VERSION``."""
    name, _, at = model[len(MODEL_PREFIX) :].partition("@")
    if not name:
        raise GatewayError.invalid(
            "model 'prompt:' must name a prompt: prompt:NAME[@LABEL|@VERSION]", param="model"
        )
    if not at:
        return PromptRef(name=name)
    if at.isdigit():
        if int(at) < 1:
            raise GatewayError.invalid("a prompt's versions start at 1", param="model")
        return PromptRef(name=name, version=int(at))
    return PromptRef(name=name, label=at)
