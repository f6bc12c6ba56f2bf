"""The prompt commands: ``prompts``, ``prompt-push``, ``prompt-label`` and ``prompt-lint``.

Prompt files live in a repository and are pushed from CI: ``prompt-push``
creates a version from a file (the same content again is the same version)
and can move a label to it; ``prompt-lint`` checks files through the
gateway's linter (its locked layers and context windows) and prints the
findings with the file's lines, as text or SARIF, exiting 1 on an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sluicegate.cli.admin_api import admin_call, print_json, show

__all__ = ["run_prompt_label", "run_prompt_lint", "run_prompt_push", "run_prompts"]


def run_prompts(args: argparse.Namespace) -> int:
    answer = admin_call(args, "GET", "/admin/prompts", query={"tenant": args.tenant})
    rows = [
        {**p, "tenant": p["tenant"] or "(platform)",
         "labels": ", ".join(f"{k}={v}" for k, v in p["labels"].items())}
        for p in answer["data"]
    ]
    return show(args, answer, rows, ["name", "tenant", "latest", "labels"])


def run_prompt_push(args: argparse.Namespace) -> int:
    from sluicegate.admin.client import AdminClient, AdminError

    prompt = _read(args.file)
    name = prompt.data.get("name")
    if not isinstance(name, str) or not name:
        print(f"sluicegate: {args.file}: the document needs a name", file=sys.stderr)
        return 1
    if not args.admin_key:
        raise SystemExit("sluicegate: give --admin-key or set SLUICEGATE_ADMIN_KEY")
    client = AdminClient(args.url, args.admin_key)
    try:
        created = client.call(
            "POST", f"/admin/prompts/{name}/versions", prompt.data,
            {"force": "true" if args.force else None},
        )
    except AdminError as exc:
        if exc.status == 422 and isinstance(exc.body, dict):
            _print_findings(args.file, prompt, exc.body.get("lint", []))
            print(f"sluicegate: {args.file}: not pushed (lint errors; --force pushes anyway)",
                  file=sys.stderr)
            return 1
        raise SystemExit(f"sluicegate: {exc}") from exc
    _print_findings(args.file, prompt, created["lint"])
    moved = None
    if args.label:
        moved = admin_call(args, "PUT", f"/admin/prompts/{name}/labels/{args.label}",
                           {"version": created["version"]})
    if args.json:
        print_json({"version": created, "label": moved})
        return 0
    state = "created" if created["created"] else "unchanged (the same content)"
    print(f"{name}@{created['version']} {created['hash'][:19]} {state}")
    if moved is not None:
        before = moved["previous"]
        print(f"{name}: {args.label} {before if before is not None else '(new)'} -> "
              f"{moved['version']}")
    return 0


def run_prompt_label(args: argparse.Namespace) -> int:
    moved = admin_call(args, "PUT", f"/admin/prompts/{args.name}/labels/{args.label}",
                       {"version": args.version})
    if args.json:
        print_json(moved)
        return 0
    before = moved["previous"]
    print(f"{args.name}: {args.label} {before if before is not None else '(new)'} -> "
          f"{moved['version']}")
    return 0


def run_prompt_lint(args: argparse.Namespace) -> int:
    from sluicegate.prompts.lint.sarif import sarif

    results: list[tuple[str, int, Any]] = []
    failed = False
    for path in args.files:
        prompt = _read(path)
        findings = _lint(args, prompt)
        for finding in findings:
            line = prompt.line_of(finding.path, finding.line)
            results.append((str(path), line, finding))
            failed = failed or finding.severity == "error"
    if args.format == "sarif":
        from importlib import metadata

        print(json.dumps(sarif(results, version=metadata.version("sluicegate")), indent=2))
    else:
        for uri, line, f in results:
            print(f"{uri}:{line}: {f.severity}: {f.rule}: {f.message} ({f.path})")
        if not results:
            print(f"{len(args.files)} file(s): no findings")
    return 1 if failed else 0


def _lint(args: argparse.Namespace, prompt: Any) -> list[Any]:
    from sluicegate.prompts.lint import Finding

    if args.offline:
        from pydantic import ValidationError

        from sluicegate.prompts.document import PromptDocument
        from sluicegate.prompts.lint import lint_document

        try:
            document = PromptDocument.model_validate(prompt.data)
        except ValidationError as exc:
            raise SystemExit(f"sluicegate: {prompt.path}: not a version document: {exc}") from exc
        return lint_document(document)
    answer = admin_call(args, "POST", "/admin/prompts/lint", prompt.data)
    return [Finding(f["rule"], f["severity"], f["message"], f["path"], f.get("line"))
            for f in answer["findings"]]


def _read(path: Path) -> Any:
    from sluicegate.prompts.files import PromptFile, PromptFileError

    try:
        return PromptFile.read(path)
    except PromptFileError as exc:
        raise SystemExit(f"sluicegate: {exc}") from exc


def _print_findings(path: Path, prompt: Any, findings: list[dict[str, Any]]) -> None:
    for f in findings:
        line = prompt.line_of(f["path"], f.get("line"))
        print(f"{path}:{line}: {f['severity']}: {f['rule']}: {f['message']} ({f['path']})",
              file=sys.stderr)
