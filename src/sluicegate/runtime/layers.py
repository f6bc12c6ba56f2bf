"""The layers of the system prompt the configuration gives: the platform's and each
tenant's, read once per configuration snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sluicegate.config import Config
from sluicegate.config.schema import PromptLayerConfig


@dataclass(frozen=True, slots=True)
class PromptLayers:
    platform: PromptLayerConfig | None = None
    tenants: Mapping[str, PromptLayerConfig] = field(default_factory=dict)

    @classmethod
    def of(cls, config: Config) -> PromptLayers:
        return cls(
            platform=config.prompt_layers.platform,
            tenants={t.name: t.prompt_layer for t in config.tenants if t.prompt_layer},
        )

    def __bool__(self) -> bool:
        return self.platform is not None or bool(self.tenants)

    def texts(self, tenant: str | None) -> tuple[str, ...]:
        """The layers' texts for ``tenant``, in order: the platform's, then the tenant's."""
        texts: list[str] = []
        if self.platform is not None:
            texts.append(self.platform.system)
        layer = self.tenants.get(tenant) if tenant is not None else None
        if layer is not None:
            texts.append(layer.system)
        return tuple(texts)

    def locked_before_prompt(self, tenant: str | None) -> tuple[str, ...]:
        """The locked layers a prompt version of ``tenant`` (None: a platform prompt)
        must not override."""
        locked = [self.platform.system] if self.platform and self.platform.locked else []
        layer = self.tenants.get(tenant) if tenant is not None else None
        if layer is not None and layer.locked:
            locked.append(layer.system)
        return tuple(locked)
