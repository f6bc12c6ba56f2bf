"""The configuration file: its schema, how it is loaded, and the embedded defaults."""

from sluicegate.config.schema import (
    Config,
    KeyConfig,
    KeyLimits,
    LimitsConfig,
    ModelConfig,
    PricingConfig,
    Priority,
    ProviderConfig,
    QueueConfig,
    RateLimits,
    ServerConfig,
    StorageConfig,
    TargetConfig,
    TenantConfig,
)

__all__ = [
    "Config",
    "KeyConfig",
    "KeyLimits",
    "LimitsConfig",
    "ModelConfig",
    "PricingConfig",
    "Priority",
    "ProviderConfig",
    "QueueConfig",
    "RateLimits",
    "ServerConfig",
    "StorageConfig",
    "TargetConfig",
    "TenantConfig",
]
