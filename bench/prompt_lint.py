"""Measure the prompt linter on the seeded corpus in bench/data/prompt_lint.

    .venv/bin/python bench/prompt_lint.py [--split dev|test|holdout|holdout2] [--show]

Prints recall (share of seeded defects reported, per rule and overall) and the
false-finding rate (share of clean cases with any finding), plus findings on
defective cases that the answer key does not list. ``dev`` and ``test`` are the
splits the linter was tuned on; ``holdout`` and ``holdout2`` were held out (see
the corpus README and the README's Prompts section).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import yaml

from sluicegate.prompts.document import PromptDocument
from sluicegate.prompts.lint import RULES, Finding, LintContext, lint_document, lint_layer

CORPUS = Path(__file__).parent / "data" / "prompt_lint"


def lint_case(case: dict[str, object]) -> list[Finding]:
    context = case.get("context") or {}
    assert isinstance(context, dict)
    platform = context.get("platform") or {}
    locked = (platform["system"],) if platform and platform.get("locked") else ()
    lint_context = LintContext(locked=locked, context_window=context.get("context_window"))
    if case["kind"] == "tenant_layer":
        layer = case["layer"]
        assert isinstance(layer, dict)
        return lint_layer(layer["system"], "system", lint_context)
    return lint_document(PromptDocument.model_validate(case["document"]), lint_context)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--split", choices=["dev", "test", "holdout", "holdout2"], default="holdout2"
    )
    parser.add_argument("--show", action="store_true", help="print every miss and false finding")
    args = parser.parse_args()
    seeded: Counter[str] = Counter()
    found: Counter[str] = Counter()
    clean = clean_flagged = extra = 0
    for path in sorted((CORPUS / args.split).glob("*.yaml")):
        case = yaml.safe_load(path.read_text())
        expect = set(case["expect"])
        rules = {f.rule for f in lint_case(case)}
        for rule in expect:
            seeded[rule] += 1
            if rule in rules:
                found[rule] += 1
            elif args.show:
                print(f"MISS  {path.name}: {rule}")
        unexpected = rules - expect
        if not expect:
            clean += 1
            if rules:
                clean_flagged += 1
        extra += len(unexpected)
        if unexpected and args.show:
            print(f"FALSE {path.name}: {', '.join(sorted(unexpected))}")
    total_seeded, total_found = sum(seeded.values()), sum(found.values())
    print(f"prompt linter on the {args.split} split of {CORPUS.relative_to(Path.cwd())}:")
    for rule in RULES:
        if seeded[rule.id]:
            print(f"  {rule.id:24} {found[rule.id]:3}/{seeded[rule.id]:<3} found")
    print(f"recall: {total_found}/{total_seeded} seeded defects found "
          f"({100 * total_found / total_seeded:.1f}%)")
    print(f"false findings: {clean_flagged}/{clean} clean cases flagged "
          f"({100 * clean_flagged / clean:.1f}%); {extra} findings the answer key does not list")
    return 0


if __name__ == "__main__":
    sys.exit(main())
