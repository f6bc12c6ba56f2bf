"""Budgets that cannot see some of their spend: aliases without pricing.

An alias with no ``pricing`` costs $0 a request, so a budget that its
requests count against never trips on them. That is legal (a local model may
really be free, and the operator may not care), so it is a warning, not an
error; giving the alias zero prices says "free" and silences it.

A budget can be spent through every alias its requests may be served by: the
aliases the tenant may ask for (all of them when ``models`` is omitted) and
every alias those can hand a request to (fallbacks, stand-ins), since the
serving alias's price is what is charged.
"""

from __future__ import annotations

from collections.abc import Iterable

from sluicegate.config.references import FieldPath, Issue, format_path
from sluicegate.config.schema import Config, ModelConfig, RateLimits


def unpriced_budgets(config: Config) -> list[Issue]:
    """One issue per budget that an unpriced alias can spend, at the budget's path."""
    models = {m.name: m for m in config.models}
    index = {m.name: i for i, m in reversed(list(enumerate(config.models)))}
    issues: list[Issue] = []

    def check(path: FieldPath, limits: RateLimits, asked: Iterable[str]) -> None:
        if limits.budget_usd is None:
            return
        unpriced = sorted(a for a in _served_by(asked, models) if models[a].pricing is None)
        if unpriced:
            issues.append(((*path, "budget_usd"), _message(unpriced, index)))

    for i, tenant in enumerate(config.tenants):
        limits = tenant.limits
        allowed = list(models) if tenant.models is None else tenant.models
        base: FieldPath = ("tenants", i, "limits")
        check(base, limits, allowed)
        for name, key_limits in limits.keys.items():
            check((*base, "keys", name), key_limits, allowed)
        for alias, alias_limits in limits.models.items():
            check((*base, "models", alias), alias_limits, [alias])
    return issues


def _served_by(asked: Iterable[str], models: dict[str, ModelConfig]) -> set[str]:
    """``asked`` and every alias a request to one of them can end up served by."""
    seen: set[str] = set()
    todo = [a for a in asked if a in models]
    while todo:
        alias = todo.pop()
        if alias in seen:
            continue
        seen.add(alias)
        model = models[alias]
        for other in (
            *model.fallbacks,
            model.context_window_fallback,
            model.content_policy_fallback,
            model.degraded,
        ):
            if other is not None and other in models:
                todo.append(other)
    return seen


def _message(unpriced: list[str], index: dict[str, int]) -> str:
    names = ", ".join(repr(a) for a in unpriced)
    where = ", ".join(format_path(("models", index[a])) for a in unpriced)
    noun = "alias" if len(unpriced) == 1 else "aliases"
    return (
        f"this budget never counts requests served by {noun} {names} ({where}): "
        "with no pricing they cost $0. Give each pricing (zero prices if it is really free)"
    )
