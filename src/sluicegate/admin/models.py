"""Admin handlers that show the running configuration: the model aliases with
their targets, and each target's health and circuit breaker."""

from __future__ import annotations

from aiohttp import web

from sluicegate.admin.http import gateway_of, json_answer
from sluicegate.admin.schemas import (
    ModelList,
    ModelOut,
    TargetHealthList,
    TargetHealthOut,
    TargetOut,
)

__all__ = ["list_models", "list_targets"]


async def list_models(request: web.Request) -> web.Response:
    aliases = gateway_of(request).runtime.aliases.values()
    models = [
        ModelOut(
            name=a.name,
            targets=[
                TargetOut(provider=t.provider.name, model=t.model, weight=t.weight)
                for t in a.targets
            ],
            fallbacks=list(a.fallbacks),
            pricing=a.pricing,
            priced=a.priced,
        )
        for a in aliases
    ]
    return json_answer(ModelList(data=models))


async def list_targets(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    labels = {t.label for t in gateway.runtime.targets()}
    health = gateway.health
    states = [
        TargetHealthOut.model_validate(health.state(label).snapshot()) for label in sorted(labels)
    ]
    return json_answer(TargetHealthList(data=states))
