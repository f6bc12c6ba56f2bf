"""The routing plan: which candidate a request tries next, and when the plan changes."""

from __future__ import annotations

from typing import Any

from sluicegate.canonical import ErrorKind, GatewayError
from sluicegate.config import ModelConfig, ProviderConfig
from sluicegate.providers.echo import EchoProvider
from sluicegate.providers.http import HttpClient
from sluicegate.resilience.health import TargetHealth
from sluicegate.routing.plan import Plan, Planner
from sluicegate.runtime.aliases import Alias, build_alias


def aliases(*models: dict[str, Any]) -> dict[str, Alias]:
    provider = EchoProvider(ProviderConfig(name="p", type="echo"), HttpClient.__new__(HttpClient))
    return {
        m["name"]: build_alias(ModelConfig.model_validate(m), {"p": provider}) for m in models
    }


def labels(plan: Plan, calls: list[int]) -> list[str]:
    """Walk ``plan`` as the upstream stage does, calling each candidate offered."""
    seen = []
    while (candidate := plan.next(len(calls))) is not None:
        seen.append(candidate[1].label)
        calls.append(1)
        plan.called()
    return seen


def error(code: str, *, retryable: bool = True) -> GatewayError:
    return GatewayError(ErrorKind.UPSTREAM, code, code=code, retryable=retryable)


ALIASES = aliases(
    {"name": "smart", "targets": [{"provider": "p", "model": "a"}], "fallbacks": ["cheap"],
     "max_attempts": 3, "context_window_fallback": "big", "degraded": "spare"},
    {"name": "cheap", "targets": [{"provider": "p", "model": "b"}]},
    {"name": "big", "targets": [{"provider": "p", "model": "c"}]},
    {"name": "spare", "targets": [{"provider": "p", "model": "d"}]},
)


def plan_of(name: str) -> Plan:
    return Planner(TargetHealth()).plan(ALIASES[name], ALIASES)


def test_the_alias_targets_come_first_then_its_fallbacks_round_and_round_up_to_max_attempts(
) -> None:
    assert labels(plan_of("smart"), []) == ["p/a", "p/b", "p/a"]


def test_a_round_that_calls_nothing_ends_the_plan() -> None:
    plan = plan_of("smart")
    offered = []
    while (candidate := plan.next(0)) is not None:  # every target passed over, none called
        offered.append(candidate[1].label)
    assert offered == ["p/a", "p/b"]


def test_an_overloaded_deployment_is_not_offered_again() -> None:
    plan = plan_of("smart")
    first = plan.next(0)
    assert first is not None
    plan.called()
    assert plan.failed(error("overloaded"), first)
    assert labels(plan, [1]) == ["p/b", "p/b"]


def test_a_prompt_too_long_switches_to_the_larger_context_alias() -> None:
    plan = plan_of("smart")
    first = plan.next(0)
    assert first is not None
    plan.called()
    assert plan.failed(error("context_length_exceeded", retryable=False), first)
    assert labels(plan, [1]) == ["p/c", "p/c"]


def test_a_failure_that_another_target_cannot_mend_ends_the_plan() -> None:
    plan = plan_of("smart")
    first = plan.next(0)
    assert first is not None
    assert not plan.failed(error("invalid_request", retryable=False), first)


def test_the_degraded_stand_in_has_a_plan_of_its_own() -> None:
    degraded = plan_of("smart").degraded()
    assert degraded is not None and degraded.alias.name == "spare"
    assert labels(degraded, []) == ["p/d"] * 3  # its own max_attempts (3)
    assert plan_of("cheap").degraded() is None
