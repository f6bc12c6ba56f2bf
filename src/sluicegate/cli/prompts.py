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
from typing import TYPE_CHECKING, Any

from sluicegate.cli.admin_api import admin_call, admin_client, print_json, show

if TYPE_CHECKING:
    from sluicegate.prompts.files import PromptFile
    from sluicegate.prompts.lint import Finding

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
    from sluicegate.admin.client import AdminError

    prompt = _read(args.file)
    name = prompt.data.get("name")
    if not isinstance(name, str) or not name:
        print(f"sluicegate: {args.file}: the document needs a name", file=sys.stderr)
        return 1
    try:
        created = admin_client(args).call(
            "POST", f"/admin/prompts/{name}/versions", prompt.data,
            {"force": "true" if args.force else None},
        )
    except AdminError as exc:
        if exc.status == 422 and isinstance(exc.body, dict):
            _print_findings(prompt, _findings(exc.body.get("lint", [])))
            print(f"sluicegate: {args.file}: not pushed (lint errors; --force pushes anyway)",
                  file=sys.stderr)
            return 1
        raise SystemExit(f"sluicegate: {exc}") from exc
    _print_findings(prompt, _findings(created["lint"]))
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
        print(_moved(moved))
    return 0


def run_prompt_label(args: argparse.Namespace) -> int:
    moved = admin_call(args, "PUT", f"/admin/prompts/{args.name}/labels/{args.label}",
                       {"version": args.version})
    if args.json:
        print_json(moved)
    else:
        print(_moved(moved))
    return 0


def _moved(moved: dict[str, Any]) -> str:
    """``NAME: LABEL BEFORE -> AFTER`` for the API's answer to a label move."""
    before = moved["previous"]
    return (
        f"{moved['name']}: {moved['label']} {before if before is not None else '(new)'} -> "
        f"{moved['version']}"
    )


def run_prompt_lint(args: argparse.Namespace) -> int:
    from sluicegate.prompts.lint.sarif import sarif

    results: list[tuple[str, int, Finding]] = []
    for path in args.files:
        prompt = _read(path)
        results += [(str(path), prompt.line_of(f.path, f.line), f) for f in _lint(args, prompt)]
    failed = any(f.severity == "error" for _, _, f in results)
    if args.format == "sarif":
        from importlib import metadata

        print(json.dumps(sarif(results, version=metadata.version("sluicegate")), indent=2))
    else:
        for uri, line, f in results:
            print(_finding_line(uri, line, f))
        if not results:
            print(f"{len(args.files)} file(s): no findings")
    return 1 if failed else 0


def _lint(args: argparse.Namespace, prompt: PromptFile) -> list[Finding]:
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
    return _findings(answer["findings"])


def _findings(answer: list[dict[str, Any]]) -> list[Finding]:
    """Findings as the API answers them (``lint`` or ``findings``)."""
    from sluicegate.prompts.lint import Finding

    return [Finding(f["rule"], f["severity"], f["message"], f["path"], f.get("line"))
            for f in answer]


def _read(path: Path) -> PromptFile:
    from sluicegate.prompts.files import PromptFile, PromptFileError

    try:
        return PromptFile.read(path)
    except PromptFileError as exc:
        raise SystemExit(f"sluicegate: {exc}") from exc


def _print_findings(prompt: PromptFile, findings: list[Finding]) -> None:
    for f in findings:
        print(_finding_line(str(prompt.path), prompt.line_of(f.path, f.line), f), file=sys.stderr)


def _finding_line(uri: str, line: int, f: Finding) -> str:
    return f"{uri}:{line}: {f.severity}: {f.rule}: {f.message} ({f.path})"
