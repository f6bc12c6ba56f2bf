"""Findings as SARIF 2.1.0, the format code-review tools (GitHub code scanning, GitLab,
reviewdog) read, so a prompt repository's CI can annotate the lines it flags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluicegate.prompts.lint import RULES, Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def sarif(
    results: Sequence[tuple[str, int, Finding]], *, version: str
) -> dict[str, Any]:
    """``results`` as (file URI, line in the file, finding)."""
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sluicegate-prompt-lint",
                        "version": version,
                        "informationUri": "https://github.com/sluicegate/sluicegate",
                        "rules": [
                            {
                                "id": rule.id,
                                "shortDescription": {"text": rule.summary},
                                "defaultConfiguration": {"level": rule.severity},
                            }
                            for rule in RULES
                        ],
                    }
                },
                "results": [_result(uri, line, f) for uri, line, f in results],
            }
        ],
    }


def _result(uri: str, line: int, finding: Finding) -> dict[str, Any]:
    return {
        "ruleId": finding.rule,
        "ruleIndex": next(i for i, r in enumerate(RULES) if r.id == finding.rule),
        "level": finding.severity,
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {"startLine": line},
                },
                "logicalLocations": [{"fullyQualifiedName": finding.path}],
            }
        ],
    }
