"""Linting the system-prompt layers a config gives (the platform's and each tenant's).

The config package cannot know the linter (it sits below everything), so the
composition roots run this: ``sluicegate check``, and the gateway when it
starts and on every reload, where an error refuses the config like any other
invalid setting.
"""

from __future__ import annotations

from sluicegate.config import Config
from sluicegate.config.loader import ConfigError, Problem
from sluicegate.config.references import FieldPath
from sluicegate.prompts.lint import Finding, LintContext, lint_layer
from sluicegate.runtime.layers import PromptLayers


def layer_findings(config: Config) -> list[tuple[FieldPath, Finding]]:
    out: list[tuple[FieldPath, Finding]] = []
    platform = config.prompt_layers.platform
    if platform is not None:
        path: FieldPath = ("prompt_layers", "platform", "system")
        out += [(path, f) for f in lint_layer(platform.system, "system")]
    # What the gateway holds a tenant's layer to: the same rule the admin API applies.
    context = LintContext(locked=PromptLayers.of(config).locked())
    for i, tenant in enumerate(config.tenants):
        if tenant.prompt_layer is not None:
            path = ("tenants", i, "prompt_layer", "system")
            out += [(path, f) for f in lint_layer(tenant.prompt_layer.system, "system", context)]
    return out


def layer_problems(config: Config) -> list[Problem]:
    return [
        Problem(path, f"{f.rule}: {f.message}", severity=f.severity)
        for path, f in layer_findings(config)
    ]


def check_layers(config: Config) -> list[Problem]:
    """Raise :class:`ConfigError` for a layer with an error finding; the warnings."""
    problems = layer_problems(config)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ConfigError(errors)
    return [p for p in problems if p.severity == "warning"]
