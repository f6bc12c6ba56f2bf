"""Stage: admit a request under its limits and budgets, or end it with 429.

Three subjects may limit one request, all checked in one all-or-nothing
admission (one Redis round trip when shared): the tenant, the API key
(``limits.keys``) and the tenant's use of the alias (``limits.models``).
Subjects are named by the tenant's immutable id, never its name, so a tenant
created under a deleted one's name starts with none of its rate windows,
concurrency or budget spend.

Tokens are reserved at admission: the prompt's estimated tokens plus the
answer's cap (``max_tokens``, or ``DEFAULT_OUTPUT_CAP`` when the client sets
none), priced at the alias's rates. When the answer ends, the reservation is
replaced by what was actually used, so a tenant is held to its real spend
while a burst of concurrent requests can never overshoot by more than one
request's reservation.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import Metric

from sluicegate.admission.budget_periods import budget_period_start
from sluicegate.admission.limiter import Ask, Decision, Limiter, LimiterUnavailable, Rule, Ticket
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.canonical.tokens import estimate_reservation
from sluicegate.config import LimitsConfig, RateLimits
from sluicegate.observability.alerts import Alerts, usd
from sluicegate.observability.metrics import counter
from sluicegate.pipeline import Events, Next, Observer, Outcome, Request, Stream

# Distinct (tenant limits, key, alias) rule lists kept before starting afresh.
RULES_CACHE_SIZE = 10_000

_MESSAGES = {
    "rpm": "requests per minute",
    "tpm": "tokens per minute",
    "concurrency": "concurrent requests",
}


log = logging.getLogger("sluicegate.admission")

# The rules of one (tenant limits, key, alias), each with the limits it came from,
# and the same rules alone, as the limiter takes them.
Rules = tuple[list[tuple[Rule, RateLimits]], list[Rule]]


class Admit:
    """``fail_open``: when the shared limiter (Redis) cannot be reached, admit
    unchecked (and log) rather than refuse every request with a 503."""

    def __init__(
        self, limiter: Limiter, *, fail_open: bool = True, alerts: Alerts | None = None
    ) -> None:
        self.limiter = limiter
        self.fail_open = fail_open
        self.alerts = alerts or Alerts()
        self.shadow_refusals: Counter[str] = Counter()
        # (subject, period label) already alerted here: no more spend lookups for it.
        self._alerted: set[tuple[str, str]] = set()
        # Rules by (tenant, its limits, key, alias): built once per limits object, which
        # is replaced, not changed, when a tenant's limits change.
        self._rules_cache: dict[
            tuple[str, int, str | None, str], tuple[LimitsConfig, Rules]
        ] = {}

    def metrics(self) -> Iterator[Metric]:
        yield counter(
            "sluicegate_shadow_refusals",
            "Requests shadow mode let through that the limits would have refused, by code.",
            ["code"],
            (((code,), n) for code, n in self.shadow_refusals.items()),
        )
        round_trips = getattr(self.limiter, "round_trips", None)
        if round_trips is not None:
            yield counter(
                "sluicegate_limiter_round_trips",
                "Round trips to the shared limiter (Redis): admissions and settlements.",
                [],
                [((), round_trips)],
            )

    async def __call__(self, request: Request, call_next: Next) -> Events:
        tenant = request.tenant
        if tenant is None or request.alias is None:
            return await call_next(request)
        rules, checked = self._rules(request)
        if not rules:
            return await call_next(request)
        tokens, cost = self._reservation(request)
        try:
            decision = await self.limiter.admit(checked, Ask(tokens, cost, time.time()))
        except LimiterUnavailable as exc:
            if not self.fail_open:
                raise GatewayError(
                    ErrorKind.UNAVAILABLE,
                    "limits cannot be checked right now",
                    code=ErrorCode.LIMITS_UNAVAILABLE,
                    retry_after=1,
                ) from exc
            log.warning("limits not checked (fail-open): %s", exc)
            return await call_next(request)
        request.outcome.add_headers(_headers(decision))
        if not decision.admitted or decision.ticket is None:
            refusal = _refusal(decision)
            if not tenant.limits.shadow:
                raise refusal
            # Shadow mode: the refusal is what would have happened; serve anyway.
            self.shadow_refusals[refusal.code or ErrorCode.RATE_LIMITED] += 1
            log.info(
                "shadow mode: tenant %s would get %s (%s on %s)",
                tenant.name,
                refusal.code,
                decision.rule,
                decision.subject,
            )
            return await call_next(request)
        ticket = decision.ticket
        try:
            stream = await call_next(request)
        except BaseException:
            await self.limiter.release(ticket)
            raise
        return stream.watch(_Settlement(self, ticket, rules))

    def _rules(self, request: Request) -> Rules:
        tenant, alias = request.tenant, request.alias
        assert tenant is not None and alias is not None
        limits = tenant.limits
        key = (tenant.id, id(limits), request.api_key.name if request.api_key else None, alias.name)
        cached = self._rules_cache.get(key)
        if cached is not None and cached[0] is limits:
            return cached[1]
        if len(self._rules_cache) >= RULES_CACHE_SIZE:
            self._rules_cache.clear()
        with_limits = rules_for(request)
        rules = (with_limits, [rule for rule, _ in with_limits])
        self._rules_cache[key] = (limits, rules)
        return rules

    def _reservation(self, request: Request) -> tuple[int, float]:
        assert request.alias is not None
        prompt, output = estimate_reservation(request.decoded)
        return prompt + output, request.alias.cost_usd(prompt, output)

    async def _settle(
        self, outcome: Outcome, ticket: Ticket, rules: list[tuple[Rule, RateLimits]]
    ) -> None:
        """Replace the reservation with what was used (nothing for a replay)."""
        usage, cost = outcome.settle()
        try:
            now = time.time()
            await self.limiter.settle_later(
                ticket, tokens=usage.total_tokens, cost_usd=cost, now=now
            )
            for rule, limits in rules:
                if limits.budget_alert_at is not None and limits.budget_usd is not None:
                    await self._alert_on_spend(rule.subject, limits, now, outcome)
        except LimiterUnavailable as exc:  # its lease and window expire by themselves
            log.warning("could not settle a reservation: %s", exc)

    async def _alert_on_spend(
        self, subject: str, limits: RateLimits, now: float, outcome: Outcome
    ) -> None:
        """Alert the first time spend crosses ``budget_alert_at`` in a period."""
        assert limits.budget_usd is not None and limits.budget_alert_at is not None
        tenant = outcome.request.tenant if outcome.request is not None else None
        label, _ = budget_period_start(limits.budget_period, now)
        if (subject, label) in self._alerted:
            return
        spent = await self.limiter.spent(subject, limits.budget_period, now)
        if spent >= limits.budget_alert_at * limits.budget_usd:
            self._alerted.add((subject, label))
            share = spent / limits.budget_usd if limits.budget_usd else 1.0
            # Said with the tenant's name (tenant:acme), as people know it.
            shown = subject if tenant is None else subject.replace(tenant.id, tenant.name, 1)
            # Once for the gateway: another worker may have seen the crossing first.
            await self.alerts.emit_once(
                f"{subject}\x00{label}",
                "budget_alert",
                f"{shown} has spent {usd(spent)} of its {usd(limits.budget_usd)} "
                f"{limits.budget_period} budget ({100 * share:.0f}%)",
                subject=shown,
                tenant_id=tenant.id if tenant is not None else None,
                spent_usd=round(spent, 6),
                budget_usd=limits.budget_usd,
                period=limits.budget_period,
                period_label=label,
                share=round(share, 4),
            )


class _Settlement(Observer):
    """Once the answer has ended, its reservation is replaced by what it used."""

    __slots__ = ("_admit", "_rules", "_ticket")

    def __init__(self, admit: Admit, ticket: Ticket, rules: list[tuple[Rule, RateLimits]]):
        self._admit, self._ticket, self._rules = admit, ticket, rules

    async def on_end(self, stream: Stream) -> None:
        await self._admit._settle(stream.outcome, self._ticket, self._rules)


def rules_for(request: Request) -> list[tuple[Rule, RateLimits]]:
    """The rules that apply to this request, each with the limits it came from."""
    tenant, alias = request.tenant, request.alias
    assert tenant is not None and alias is not None
    limits = tenant.limits
    rules: list[tuple[Rule, RateLimits]] = []
    if limits.limited():
        rules.append((_rule(tenant_subject(tenant.id), limits), limits))
    if limits.keys and request.api_key is not None:
        key_limits = limits.keys.get(request.api_key.name)
        if key_limits is not None and key_limits.limited():
            rules.append(
                (_rule(key_subject(tenant.id, request.api_key.name), key_limits), key_limits)
            )
    if limits.models:
        model_limits = limits.models.get(alias.name)
        if model_limits is not None and model_limits.limited():
            rules.append(
                (_rule(model_subject(tenant.id, alias.name), model_limits), model_limits)
            )
    return rules


def _rule(subject: str, limits: RateLimits) -> Rule:
    return Rule(
        subject=subject,
        rpm=limits.rpm,
        tpm=limits.tpm,
        max_concurrency=limits.max_concurrency,
        budget_usd=limits.budget_usd,
        budget_period=limits.budget_period,
    )


def key_subject(tenant_id: str, key_name: str) -> str:
    """The limiter subject of one API key's own limits and budget."""
    return f"key:{tenant_id}/{key_name}"


def model_subject(tenant_id: str, alias: str) -> str:
    """The limiter subject of a tenant's use of one alias."""
    return f"model:{tenant_id}|{alias}"


def tenant_subject(tenant_id: str) -> str:
    """The limiter subject that holds a tenant's own limits and budget (by ``Tenant.id``)."""
    return f"tenant:{tenant_id}"


def _refusal(decision: Decision) -> GatewayError:
    if decision.rule == "budget":
        return GatewayError(
            ErrorKind.RATE_LIMITED,
            "the budget for this period is spent",
            code=ErrorCode.BUDGET_EXCEEDED,
        )
    what = _MESSAGES.get(decision.rule or "", "requests")
    return GatewayError(
        ErrorKind.RATE_LIMITED,
        f"rate limit reached: too many {what}",
        code=ErrorCode.RATE_LIMITED,
        retry_after=decision.retry_after_s,
    )


# Header names built once: each request's dict then reuses the same (hashed) strings.
_HEADER_NAMES = tuple(
    (
        kind,
        f"x-ratelimit-limit-{kind}",
        f"x-ratelimit-remaining-{kind}",
        f"x-ratelimit-reset-{kind}",
    )
    for kind in ("requests", "tokens")
)


def _headers(decision: Decision) -> dict[str, str]:
    """OpenAI's x-ratelimit-* names, for the tightest rule."""
    headers = {}
    limit, remaining, reset = decision.limit, decision.remaining, decision.reset_s
    for kind, limit_name, remaining_name, reset_name in _HEADER_NAMES:
        if kind in limit:
            headers[limit_name] = str(limit[kind])
        if kind in remaining:
            headers[remaining_name] = str(remaining[kind])
        if kind in reset:
            headers[reset_name] = f"{reset[kind]:.3f}s"
    return headers
