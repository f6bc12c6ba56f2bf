"""Which targets a request tries, in what order: every routing decision in one place.

The :class:`Planner` orders an alias's targets with its balancing strategy
and appends its fallback aliases' targets. The :class:`Plan` it gives is
walked by the upstream stage one candidate at a time; the plan alone decides
what comes next:

- while attempts remain (``max_attempts``), it goes round the candidates
  again, and stops once a whole round has called nothing (every breaker open);
- a deployment that turned the request away (``overloaded``) is not offered
  again;
- "prompt too long" and "content policy" failures switch the plan to the
  alias's configured stand-in (``context_window_fallback``,
  ``content_policy_fallback``);
- when no target of the alias could even be tried, its ``degraded`` alias
  gets a plan of its own (and the outcome says so).
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from sluicegate.canonical import ErrorCode, GatewayError
from sluicegate.fairness import OVERLOADED
from sluicegate.resilience.health import TargetHealth
from sluicegate.routing.balance import Balancer, Strategy, balancer
from sluicegate.runtime.aliases import Alias, Target

Candidate = tuple[Alias, Target]


class Planner:
    """Orders an alias's targets with its balancing strategy, then appends its fallbacks'."""

    def __init__(self, health: TargetHealth, rng: random.Random | None = None) -> None:
        self.health = health
        self._rng = rng or random.Random()
        self._balancers: dict[Strategy, Balancer] = {}

    def plan(self, alias: Alias, aliases: Mapping[str, Alias]) -> Plan:
        return Plan(self, alias, aliases)

    def candidates(self, alias: Alias, aliases: Mapping[str, Alias]) -> list[Candidate]:
        order = self.order(alias)
        for name in alias.fallbacks:
            fallback = aliases.get(name)
            if fallback is not None:
                order.extend(self.order(fallback))
        return order

    def order(self, alias: Alias) -> list[Candidate]:
        targets = alias.targets
        if len(targets) == 1:
            return [(alias, targets[0])]
        strategy = alias.config.balance
        chosen = self._balancers.get(strategy)
        if chosen is None:
            chosen = self._balancers[strategy] = balancer(strategy, self._rng)
        states = [self.health.state(t.label) for t in targets]
        return [(alias, targets[i]) for i in chosen.order(targets, states)]


class Plan:
    """The candidates of one request, walked once by the upstream stage.

    ``next()`` gives the next candidate to try, or None when the plan is done;
    ``called()`` says the last one was actually called, ``failed(err)`` that it
    failed (which may switch the plan to a stand-in).
    """

    __slots__ = (
        "_aliases",
        "_calls_this_round",
        "_candidates",
        "_index",
        "_planner",
        "_shed",
        "alias",
        "max_attempts",
    )

    def __init__(self, planner: Planner, alias: Alias, aliases: Mapping[str, Alias]) -> None:
        self._planner = planner
        self._aliases = aliases
        self.alias = alias  # the alias whose plan this is (a degraded plan's own)
        self.max_attempts = alias.config.max_attempts
        self._candidates = planner.candidates(alias, aliases)
        self._index = 0
        self._calls_this_round = 0
        self._shed: set[str] | None = None  # deployments that turned this request away

    def next(self, calls: int) -> Candidate | None:
        """The next candidate for a request that has made ``calls`` upstream calls."""
        candidates = self._candidates
        while candidates and calls < self.max_attempts:
            if self._index == len(candidates):
                if self._calls_this_round == 0:
                    return None  # a whole round passed over every target: stop cycling
                self._index, self._calls_this_round = 0, 0
            candidate = candidates[self._index]
            self._index += 1
            if self._shed is not None and candidate[1].label in self._shed:
                if self._index == len(candidates) and self._calls_this_round == 0:
                    return None
                continue
            return candidate
        return None

    def called(self) -> None:
        self._calls_this_round += 1

    def failed(self, err: GatewayError, candidate: Candidate) -> bool:
        """Take ``err`` from ``candidate`` into account; True when the plan goes on
        (the error may be retried elsewhere, or a stand-in takes over)."""
        if err.code == OVERLOADED:
            if self._shed is None:
                self._shed = set()
            self._shed.add(candidate[1].label)
        stand_in = _stand_in_for(err, candidate[0])
        if stand_in is not None and stand_in in self._aliases:
            # The prompt cannot succeed on this alias anywhere: switch plans.
            other = self._aliases[stand_in]
            self._candidates = self._planner.candidates(other, self._aliases)
            self._index, self._calls_this_round = 0, 0
            return True
        return err.retryable

    def degraded(self) -> Plan | None:
        """The plan of the alias's ``degraded`` stand-in, for when none of its own
        targets could even be tried; None when it has none."""
        name = self.alias.config.degraded
        if name is None or name not in self._aliases:
            return None
        return Plan(self._planner, self._aliases[name], self._aliases)


def _stand_in_for(err: GatewayError, alias: Alias) -> str | None:
    if err.code == ErrorCode.CONTEXT_LENGTH_EXCEEDED:
        return alias.config.context_window_fallback
    if err.code == ErrorCode.CONTENT_POLICY_VIOLATION:
        return alias.config.content_policy_fallback
    return None
