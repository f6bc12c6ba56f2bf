"""The prompt linter: what a version or a tenant's layer is checked for before it ships.

It runs when a version is created (errors refuse it with 422 unless forced),
when a tenant's layer changes (``sluicegate check``, start and reload), from
``POST /admin/prompts/lint`` and from ``sluicegate prompt-lint`` (text or
SARIF). Every finding has a stable rule id from :data:`RULES`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sluicegate.prompts.document import PromptDocument
from sluicegate.prompts.lint.content import personal_data_findings, secret_findings
from sluicegate.prompts.lint.findings import Finding, Rule, Severity, has_errors
from sluicegate.prompts.lint.locked import LockedRules, locked_findings
from sluicegate.prompts.lint.structure import (
    compiled,
    context_window_findings,
    prefix_findings,
    variable_findings,
)

__all__ = [
    "RULES",
    "Finding",
    "LintContext",
    "Rule",
    "Severity",
    "has_errors",
    "lint_document",
    "lint_layer",
]

RULES: tuple[Rule, ...] = (
    Rule("template-syntax", "error", "a message's template does not parse"),
    Rule("undefined-variable", "error", "a template uses a variable the schema does not declare"),
    Rule("unused-variable", "warning", "the schema declares a variable no message uses"),
    Rule("variables-schema", "error", "variables is not a valid JSON Schema object schema"),
    Rule("context-window", "error", "the prompt plus max_tokens exceeds the alias's window"),
    Rule(
        "variable-before-static",
        "warning",
        "a system message starts with per-request content (defeats prefix caching)",
    ),
    Rule("secret", "error", "an API key, token, password or private key in the text"),
    Rule(
        "personal-data",
        "error",
        "a person's email, phone, card, SSN, IBAN or date of birth in the text",
    ),
    Rule(
        "locked-layer-override", "error", "text that tries to override or contradict a locked layer"
    ),
    Rule("unknown-model", "warning", "model names no configured alias"),
)


@dataclass(frozen=True, slots=True)
class LintContext:
    """What the linter knows besides the document: the locked layers above it and the
    alias it would be served by."""

    locked: tuple[str, ...] = ()  # texts of the locked layers that come before
    context_window: int | None = None
    aliases: frozenset[str] | None = None  # None: not known (no config at hand)

    def locked_rules(self) -> LockedRules | None:
        if not self.locked:
            return None
        return LockedRules.of("\n".join(self.locked))


def lint_document(document: PromptDocument, context: LintContext = LintContext()) -> list[Finding]:
    templates, findings = compiled(document)
    findings += variable_findings(document, templates)
    findings += context_window_findings(document, context.context_window)
    findings += prefix_findings(document)
    locked = context.locked_rules()
    for i, message in enumerate(document.messages):
        path = f"messages[{i}].content"
        findings += secret_findings(message.content, path)
        findings += personal_data_findings(message.content, path)
        if message.role in ("system", "developer") and context.locked:
            findings += locked_findings(message.content, path, locked)
    if (
        document.model is not None
        and context.aliases is not None
        and document.model not in context.aliases
    ):
        findings.append(
            Finding(
                "unknown-model",
                "warning",
                f"model {document.model!r} is not a configured alias",
                "model",
            )
        )
    return findings


def lint_layer(text: str, path: str, context: LintContext = LintContext()) -> list[Finding]:
    """A tenant's layer: secrets, personal data, and overrides of the locked layers."""
    findings = list(secret_findings(text, path))
    findings += personal_data_findings(text, path)
    if context.locked:
        findings += locked_findings(text, path, context.locked_rules())
    return findings
