"""What the linter reports: a finding with a stable rule id, a severity and a path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    summary: str


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    path: str  # where in the document: "messages[0].content", "variables", "system"
    line: int | None = None  # the line within that text, where known

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "path": self.path,
        }
        if self.line is not None:
            out["line"] = self.line
        return out


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
