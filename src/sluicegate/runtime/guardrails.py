"""The configured guardrails, built once per configuration snapshot, and those of a tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sluicegate.config.schema import GuardrailConfig, TenantConfig
from sluicegate.detectors.entities import PII_ENTITIES
from sluicegate.detectors.scans import (
    Detector,
    InjectionScan,
    ModerationScan,
    PiiScan,
    RegexScan,
    Remembered,
)


@dataclass(frozen=True, slots=True)
class Guardrail:
    config: GuardrailConfig
    detector: Detector
    # The same detector remembering what it found in the texts of requests (an answer is
    # new text each time, so the output stage reads with ``detector``).
    requests: Detector | None = None

    @property
    def on_requests(self) -> Detector:
        return self.requests if self.requests is not None else self.detector

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def on_input(self) -> bool:
        return "input" in self.config.stage

    @property
    def on_output(self) -> bool:
        return "output" in self.config.stage

    @classmethod
    def build(cls, config: GuardrailConfig) -> Guardrail:
        detector: Detector
        if config.type == "pii":
            detector = PiiScan(config.entities or PII_ENTITIES)
        elif config.type == "injection":
            detector = InjectionScan()
        elif config.type == "moderation":
            detector = ModerationScan()
        else:
            detector = RegexScan(config.patterns)
        return cls(config, detector, Remembered(detector))


@dataclass(frozen=True, slots=True)
class Guardrails:
    """Every configured guardrail; ``for_tenant`` those that apply to one tenant."""

    all: tuple[Guardrail, ...] = ()
    # Tenant name -> its selection, for the tenants the config names one for.
    _chosen: dict[str, tuple[Guardrail, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, configs: Sequence[GuardrailConfig], tenants: Sequence[TenantConfig]
              ) -> Guardrails:
        built = tuple(Guardrail.build(c) for c in configs)
        by_name = {g.name: g for g in built}
        chosen = {
            t.name: tuple(by_name[n] for n in t.guardrails)
            for t in tenants
            if t.guardrails is not None
        }
        return cls(built, chosen)

    def for_tenant(self, tenant: str | None) -> tuple[Guardrail, ...]:
        if tenant is None:
            return self.all
        return self._chosen.get(tenant, self.all)
