"""Stage: admit a request under its tenant's limits and budget, or end it with 429.

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

from sluicegate.admission.limits import (
    Ask,
    Decision,
    Limiter,
    LimiterUnavailable,
    Rule,
    Ticket,
    budget_period_start,
)
from sluicegate.canonical import ChatRequest, ErrorKind, GatewayError
from sluicegate.canonical.tokens import estimate_input_tokens
from sluicegate.config import LimitsConfig
from sluicegate.pipeline import Events, Next, RequestContext

# The answer's cap when the client gives no max_tokens.
DEFAULT_OUTPUT_CAP = 4096

_MESSAGES = {
    "rpm": "requests per minute",
    "tpm": "tokens per minute",
    "concurrency": "concurrent requests",
}


log = logging.getLogger("sluicegate.admission")


class Admit:
    """``fail_open``: when the shared limiter (Redis) cannot be reached, admit
    unchecked (and log) rather than refuse every request with a 503."""

    def __init__(self, limiter: Limiter, *, fail_open: bool = True) -> None:
        self.limiter = limiter
        self.fail_open = fail_open
        self.shadow_refusals: Counter[str] = Counter()
        # (subject, period label) already alerted, so each crossing alerts once.
        self._alerted: set[tuple[str, str]] = set()

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Events:
        tenant = ctx.tenant
        if tenant is None or ctx.alias is None:
            return await call_next(ctx)
        limits = tenant.limits
        if (
            limits.rpm is None
            and limits.tpm is None
            and limits.max_concurrency is None
            and limits.budget_usd is None
        ):
            return await call_next(ctx)
        rule = Rule(
            subject=tenant_subject(tenant.name),
            rpm=limits.rpm,
            tpm=limits.tpm,
            max_concurrency=limits.max_concurrency,
            budget_usd=limits.budget_usd,
            budget_period=limits.budget_period,
        )
        tokens, cost = self._reservation(ctx)
        try:
            decision = await self.limiter.admit(
                [rule], Ask(tokens=tokens, cost_usd=cost, now=time.time())
            )
        except LimiterUnavailable as exc:
            if not self.fail_open:
                raise GatewayError(
                    ErrorKind.UNAVAILABLE,
                    "limits cannot be checked right now",
                    code="limits_unavailable",
                    retry_after=1,
                ) from exc
            log.warning("limits not checked (fail-open): %s", exc)
            return await call_next(ctx)
        ctx.rate_limit_headers = _headers(decision)
        if not decision.admitted or decision.ticket is None:
            refusal = _refusal(decision)
            if not limits.shadow:
                raise refusal
            # Shadow mode: the refusal is what would have happened; serve anyway.
            self.shadow_refusals[refusal.code or "rate_limited"] += 1
            log.info("shadow mode: tenant %s would get %s", tenant.name, refusal.code)
            return await call_next(ctx)
        ticket = decision.ticket
        try:
            events = await call_next(ctx)
        except BaseException:
            await self.limiter.release(ticket)
            raise
        # Settle sees every event already; it hands over the final usage and cost.
        ctx.on_settled(lambda settled: self._settle(settled, ticket))
        return events

    def _reservation(self, ctx: RequestContext) -> tuple[int, float]:
        request = ctx.decoded
        assert ctx.alias is not None
        prompt = estimate_input_tokens(request)
        output = (
            (request.max_tokens or DEFAULT_OUTPUT_CAP) * max(1, request.n)
            if isinstance(request, ChatRequest)
            else 0
        )
        return prompt + output, ctx.alias.cost_usd(prompt, output)

    async def _settle(self, ctx: RequestContext, ticket: Ticket) -> None:
        """Replace the reservation with what was used (nothing for a replay)."""
        usage = ctx.usage
        tokens = 0 if ctx.replayed or usage is None else usage.total_tokens
        try:
            now = time.time()
            await self.limiter.settle(ticket, tokens=tokens, cost_usd=ctx.cost_usd, now=now)
            if ctx.tenant is not None and ctx.tenant.limits.budget_alert_at is not None:
                await self._alert_on_spend(ctx.tenant.name, ctx.tenant.limits, now)
        except LimiterUnavailable as exc:  # its lease and window expire by themselves
            log.warning("could not settle a reservation: %s", exc)

    async def _alert_on_spend(self, tenant: str, limits: LimitsConfig, now: float) -> None:
        """Log a budget alert the first time spend crosses ``budget_alert_at`` in a period."""
        if limits.budget_usd is None or limits.budget_alert_at is None:
            return
        subject = tenant_subject(tenant)
        label, _ = budget_period_start(limits.budget_period, now)
        if (subject, label) in self._alerted:
            return
        spent = await self.limiter.spent(subject, limits.budget_period, now)
        if spent >= limits.budget_alert_at * limits.budget_usd:
            self._alerted.add((subject, label))
            log.warning(
                "budget alert: tenant %s has spent $%.4f of its $%.2f %s budget (%.0f%%)",
                tenant,
                spent,
                limits.budget_usd,
                limits.budget_period,
                100 * spent / limits.budget_usd if limits.budget_usd else 100.0,
            )


def tenant_subject(name: str) -> str:
    """The limiter subject that holds a tenant's own limits and budget."""
    return f"tenant:{name}"


def _refusal(decision: Decision) -> GatewayError:
    if decision.rule == "budget":
        return GatewayError(
            ErrorKind.RATE_LIMITED,
            "the budget for this period is spent",
            code="budget_exceeded",
        )
    what = _MESSAGES.get(decision.rule or "", "requests")
    return GatewayError(
        ErrorKind.RATE_LIMITED,
        f"rate limit reached: too many {what}",
        code="rate_limited",
        retry_after=decision.retry_after_s,
    )


def _headers(decision: Decision) -> dict[str, str]:
    """OpenAI's x-ratelimit-* names, for the tightest rule."""
    headers = {}
    for kind, name in (("requests", "requests"), ("tokens", "tokens")):
        if kind in decision.limit:
            headers[f"x-ratelimit-limit-{name}"] = str(decision.limit[kind])
        if kind in decision.remaining:
            headers[f"x-ratelimit-remaining-{name}"] = str(decision.remaining[kind])
        if kind in decision.reset_s:
            headers[f"x-ratelimit-reset-{name}"] = f"{decision.reset_s[kind]:.3f}s"
    return headers
