"""The configuration, made executable: provider adapters and model aliases.

A Runtime is immutable. A reload builds a new one and swaps it in; requests
already in flight finish on the one they started with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sluicegate.config import Config
from sluicegate.providers.base import Provider
from sluicegate.providers.http import HttpClient
from sluicegate.providers.registry import build_provider
from sluicegate.runtime.aliases import Alias, Target, build_alias
from sluicegate.runtime.guardrails import Guardrails
from sluicegate.runtime.layers import PromptLayers


@dataclass(frozen=True, slots=True)
class Runtime:
    config: Config
    providers: dict[str, Provider]
    aliases: dict[str, Alias]
    # The system-prompt layers every chat request gets (empty: none configured).
    layers: PromptLayers = field(default_factory=PromptLayers)
    # The configured guardrails, their detectors loaded (empty: none configured).
    guardrails: Guardrails = field(default_factory=Guardrails)

    @classmethod
    def build(cls, config: Config, http: HttpClient) -> Runtime:
        providers = {p.name: build_provider(p, http) for p in config.providers}
        aliases = {m.name: build_alias(m, providers) for m in config.models}
        return cls(
            config=config,
            providers=providers,
            aliases=aliases,
            layers=PromptLayers.of(config),
            guardrails=Guardrails.build(config.guardrails, config.tenants),
        )

    @classmethod
    def of(cls, aliases: dict[str, Alias], config: Config | None = None) -> Runtime:
        """A runtime of ready-made aliases and no providers of its own (tests, tools)."""
        if config is None:
            config = Config.model_construct(providers=[], models=[])
        return cls(
            config=config, providers={}, aliases=dict(aliases), layers=PromptLayers.of(config)
        )

    def targets(self) -> list[Target]:
        """Every deployment behind any alias (a target shared by aliases appears once)."""
        seen: dict[str, Target] = {}
        for alias in self.aliases.values():
            for target in alias.targets:
                seen.setdefault(target.label, target)
        return list(seen.values())
