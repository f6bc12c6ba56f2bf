"""Stage: the plan of deployments to try: the alias's targets, then its fallbacks'."""

from __future__ import annotations

import random
from collections.abc import Mapping

from sluicegate.pipeline import Events, Next, Request
from sluicegate.resilience.health import TargetHealth
from sluicegate.routing.aliases import Alias, Target
from sluicegate.routing.balance import Balancer, Strategy, balancer


class Planner:
    """Orders an alias's targets with its balancing strategy, then appends its fallbacks'."""

    def __init__(self, health: TargetHealth, rng: random.Random | None = None) -> None:
        self.health = health
        self._rng = rng or random.Random()
        self._balancers: dict[Strategy, Balancer] = {}

    def plan(self, alias: Alias, aliases: Mapping[str, Alias]) -> list[tuple[Alias, Target]]:
        order = self.order(alias)
        for name in alias.fallbacks:
            fallback = aliases.get(name)
            if fallback is not None:
                order.extend(self.order(fallback))
        return order

    def order(self, alias: Alias) -> list[tuple[Alias, Target]]:
        targets = alias.targets
        if len(targets) == 1:
            return [(alias, targets[0])]
        strategy = alias.config.balance
        chosen = self._balancers.get(strategy)
        if chosen is None:
            chosen = self._balancers[strategy] = balancer(strategy, self._rng)
        states = [self.health.state(t.label) for t in targets]
        return [(alias, targets[i]) for i in chosen.order(targets, states)]


class Route:
    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    async def __call__(self, request: Request, call_next: Next) -> Events:
        assert request.alias is not None
        plan = self.planner.plan(request.alias, request.runtime.aliases)
        return await call_next(request.replace(plan=tuple(plan)))
