"""The configuration file: its schema, how it is loaded, and the embedded defaults."""

from sluicegate.config.schema import (
    Config,
    KeyConfig,
    LimitsConfig,
    ModelConfig,
    PricingConfig,
    ProviderConfig,
    ServerConfig,
    StorageConfig,
    TargetConfig,
    TenantConfig,
)

__all__ = [
    "Config",
    "KeyConfig",
    "LimitsConfig",
    "ModelConfig",
    "PricingConfig",
    "ProviderConfig",
    "ServerConfig",
    "StorageConfig",
    "TargetConfig",
    "TenantConfig",
]
