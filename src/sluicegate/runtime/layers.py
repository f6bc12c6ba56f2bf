"""The platform's layer of the system prompt, read once per configuration snapshot.

A tenant's own layer lives with the tenant (``Tenant.prompt_layer``: from the
config file or the admin API); every request composes the two.
"""

from __future__ import annotations

from dataclasses import dataclass

from sluicegate.config import Config
from sluicegate.config.schema import PromptLayerConfig


@dataclass(frozen=True, slots=True)
class PromptLayers:
    platform: PromptLayerConfig | None = None

    @classmethod
    def of(cls, config: Config) -> PromptLayers:
        return cls(platform=config.prompt_layers.platform)

    def texts(self, tenant_layer: PromptLayerConfig | None) -> tuple[str, ...]:
        """The layers' texts in order: the platform's, then the tenant's."""
        texts: list[str] = []
        if self.platform is not None:
            texts.append(self.platform.system)
        if tenant_layer is not None:
            texts.append(tenant_layer.system)
        return tuple(texts)

    def locked(self, tenant_layer: PromptLayerConfig | None = None) -> tuple[str, ...]:
        """The locked layers a later text (a tenant's layer: pass none; a tenant's prompt
        version: pass its tenant's layer) must not override."""
        locked = [self.platform.system] if self.platform and self.platform.locked else []
        if tenant_layer is not None and tenant_layer.locked:
            locked.append(tenant_layer.system)
        return tuple(locked)
