"""Model aliases: the names clients send, each backed by weighted deployments."""

from __future__ import annotations

from dataclasses import dataclass, field

from sluicegate.config import ModelConfig, PricingConfig, TargetConfig
from sluicegate.providers.base import Provider
from sluicegate.providers.deadlines import Deadlines


@dataclass(frozen=True, slots=True)
class Capacity:
    """What a deployment can take (its provider's quota, or what it can serve)."""

    max_concurrency: int | None = None
    rpm: int | None = None
    tpm: int | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """One deployment: a provider and the upstream model name it is called with."""

    provider: Provider
    model: str
    weight: float
    # The provider's timeouts with its alias's overrides, worked out once.
    deadlines: Deadlines = field(compare=False)
    # What the deployment can take; None: unbounded (no gate, no queue).
    capacity: Capacity | None = None
    label: str = ""  # "provider/model", for headers, the ledger and metrics

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"{self.provider.name}/{self.model}")


@dataclass(frozen=True, slots=True)
class Alias:
    name: str
    targets: tuple[Target, ...]
    fallbacks: tuple[str, ...]
    pricing: PricingConfig
    config: ModelConfig

    @property
    def priced(self) -> bool:
        """False when the config gives no pricing (``pricing`` is then all zeros)."""
        return self.config.pricing is not None

    def cost_usd(
        self,
        input_tokens: int,
        output_tokens: int,
        cached_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float:
        """Price a call. Cached reads and cache writes are priced at their own
        rates when configured, otherwise as ordinary input."""
        p = self.pricing
        cached_rate = (
            p.input_per_mtok if p.cached_input_per_mtok is None else p.cached_input_per_mtok
        )
        write_rate = p.input_per_mtok if p.cache_write_per_mtok is None else p.cache_write_per_mtok
        plain = max(0, input_tokens - cached_tokens - cache_write_tokens)
        return (
            plain * p.input_per_mtok
            + cached_tokens * cached_rate
            + cache_write_tokens * write_rate
            + output_tokens * p.output_per_mtok
        ) / 1_000_000


def build_alias(config: ModelConfig, providers: dict[str, Provider]) -> Alias:
    targets = tuple(
        Target(
            provider=providers[t.provider],
            model=t.model,
            weight=t.weight,
            capacity=_capacity(t),
            deadlines=Deadlines.of(providers[t.provider].config, config.timeouts),
        )
        for t in config.targets
    )
    return Alias(
        name=config.name,
        targets=targets,
        fallbacks=tuple(config.fallbacks),
        pricing=config.pricing or PricingConfig(),
        config=config,
    )


def _capacity(target: TargetConfig) -> Capacity | None:
    if target.max_concurrency is None and target.rpm is None and target.tpm is None:
        return None
    return Capacity(target.max_concurrency, target.rpm, target.tpm)
