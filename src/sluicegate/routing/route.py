"""Stage: order the deployments to try: the alias's targets, then its fallbacks'."""

from __future__ import annotations

import random

from sluicegate.pipeline import Events, Next, RequestContext
from sluicegate.routing.aliases import Alias, Target


class Route:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Events:
        assert ctx.alias is not None
        aliases = ctx.runtime.aliases
        order = self.weighted_order(ctx.alias)
        for name in ctx.alias.fallbacks:
            fallback = aliases.get(name)
            if fallback is not None:
                order.extend(self.weighted_order(fallback))
        ctx.targets = order
        return await call_next(ctx)

    def weighted_order(self, alias: Alias) -> list[tuple[Alias, Target]]:
        """A random order in which heavier targets tend to come first."""
        targets = alias.targets
        if len(targets) == 1:
            return [(alias, targets[0])]
        # Efraimidis-Spirakis: sort by u^(1/w), a weighted sample without replacement.
        keyed = sorted(targets, key=lambda t: self._rng.random() ** (1.0 / t.weight), reverse=True)
        return [(alias, t) for t in keyed]
