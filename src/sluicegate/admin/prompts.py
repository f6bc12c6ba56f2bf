"""Admin handlers for prompts: versions, labels, lint and what a request would render.

Versions are created through the linter: an error refuses the version with
422 and the findings (``?force=true`` stores it anyway; a version that
cannot even compile is refused whatever ``force`` says, since it could
never be served). The lint context is the running configuration: the locked
layers above the prompt and its alias's context window.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from sluicegate.admin.http import gateway_of, json_answer, read_body, read_query, tenant_named
from sluicegate.admin.lint_answer import lint_failed
from sluicegate.admin.prompt_schemas import (
    FindingOut,
    LabelMove,
    LabelMoved,
    LabelMoveOut,
    LintResult,
    PromptDetail,
    PromptList,
    PromptListQuery,
    PromptSummary,
    Rendered,
    RenderRequest,
    VersionCreated,
    VersionCreateQuery,
    VersionSummary,
)
from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError, PromptRef
from sluicegate.gateway import Gateway
from sluicegate.http_errors import JSON
from sluicegate.prompts.document import LATEST, PromptDocument, is_label, is_name
from sluicegate.prompts.lint import Finding, LintContext, has_errors, lint_document
from sluicegate.prompts.registry import Prompt, prompt_not_found
from sluicegate.prompts.render import preview
from sluicegate.prompts.template import TemplateError
from sluicegate.state.prompt_store import PromptStoreError

__all__ = [
    "create_version",
    "get_prompt",
    "get_version",
    "lint_prompt",
    "list_prompts",
    "move_label",
    "render_prompt",
]


async def create_version(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    name = _path_name(request)
    query = read_query(request, VersionCreateQuery)
    document = await read_body(request, PromptDocument, defaults={"name": name})
    if document.name != name:
        raise GatewayError.invalid(
            f"the document's name {document.name!r} is not the path's {name!r}", param="name"
        )
    tenant_id = _owner_id(gateway, document)
    findings = lint_document(document, lint_context(gateway, document))
    if has_errors(findings) and not query.force:
        return lint_failed(findings)
    try:
        stored = await gateway.prompts.add_version(document, tenant_id=tenant_id)
    except TemplateError as exc:  # forced past template-syntax: it still cannot be served
        raise GatewayError.invalid(
            f"the version cannot be served: {exc.message}", param="messages"
        ) from exc
    except PromptStoreError as exc:
        raise store_error(exc) from exc
    answer = VersionCreated(
        name=name,
        version=stored.version,
        hash=stored.hash,
        created_at=stored.created_at,
        created=stored.created,
        lint=[_finding(f) for f in findings],
    )
    return json_answer(answer, status=201 if stored.created else 200)


async def list_prompts(request: web.Request) -> web.Response:
    query = read_query(request, PromptListQuery)
    gateway = gateway_of(request)
    prompts = gateway.prompts.prompts()
    if query.tenant is not None:
        tenant = tenant_named(gateway, query.tenant)
        prompts = [p for p in prompts if p.tenant_id == tenant.id]
    return json_answer(PromptList(data=[_summary(p) for p in prompts]))


async def get_prompt(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    prompt = _path_prompt(request)
    history = await gateway.prompts.label_history(prompt.name)
    return json_answer(
        PromptDetail(
            name=prompt.name,
            tenant=prompt.tenant,
            latest=prompt.latest,
            versions=[
                VersionSummary(version=v.version, hash=v.hash, created_at=v.created_at)
                for v in sorted(prompt.versions.values(), key=lambda v: v.version)
            ],
            labels=dict(sorted(prompt.labels.items())),
            label_history=[
                LabelMoveOut.model_validate(
                    {"label": m.label, "from": m.from_version, "to": m.to_version, "at": m.at}
                )
                for m in history
            ],
        )
    )


async def get_version(request: web.Request) -> web.Response:
    prompt = _path_prompt(request)
    raw = request.match_info["version"]
    number = int(raw) if raw.isdigit() else prompt.labelled(raw) if is_label(raw) else None
    version = prompt.versions.get(number) if number is not None else None
    if version is None:
        raise prompt_not_found(f"prompt {prompt.name!r} has no version {raw!r}", "version")
    document = version.document.model_dump(mode="json")
    body = {**document, "version": version.version, "hash": version.hash,
            "created_at": version.created_at}
    return web.Response(body=orjson.dumps(body), content_type=JSON)


async def move_label(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    prompt = _path_prompt(request)
    label = request.match_info["label"]
    if label == LATEST:
        raise GatewayError.invalid(
            "'latest' always means the newest version and cannot be moved", param="label"
        )
    if not is_label(label):
        raise GatewayError.invalid(
            f"a label must match [a-z][a-z0-9._-]{{0,63}} (got {label!r})", param="label"
        )
    body = await read_body(request, LabelMove)
    try:
        move = await gateway.prompts.move_label(
            prompt.name, label, body.version, expected=body.expected_version
        )
    except PromptStoreError as exc:
        raise store_error(exc) from exc
    return json_answer(
        LabelMoved(name=prompt.name, label=label, version=move.to_version,
                   previous=move.from_version)
    )


async def lint_prompt(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    document = await read_body(request, PromptDocument)
    findings = lint_document(document, lint_context(gateway, document))
    return json_answer(LintResult(findings=[_finding(f) for f in findings]))


async def render_prompt(request: web.Request) -> web.Response:
    """What the upstream would receive for this prompt, tenant and variables."""
    gateway = gateway_of(request)
    prompt = _path_prompt(request)
    body = await read_body(request, RenderRequest)
    if body.label is not None and body.version is not None:
        raise GatewayError.invalid("give a label or a version, not both", param="version")
    tenant = tenant_named(gateway, body.tenant) if body.tenant is not None else None
    result = preview(
        gateway.prompts,
        gateway.runtime.layers,
        PromptRef(name=prompt.name, label=body.label, version=body.version,
                  variables=body.variables),
        tenant_id=tenant.id if tenant is not None else None,
        tenant_layer=tenant.prompt_layer if tenant is not None else None,
        messages=body.messages,
    )
    return json_answer(Rendered(**result))


# -- shared ---------------------------------------------------------------------


def lint_context(gateway: Gateway, document: PromptDocument) -> LintContext:
    runtime = gateway.runtime
    alias = runtime.aliases.get(document.model) if document.model is not None else None
    owner = gateway.directory.tenant(document.tenant) if document.tenant is not None else None
    return LintContext(
        locked=runtime.layers.locked(owner.prompt_layer if owner is not None else None),
        context_window=alias.config.context_window if alias is not None else None,
        aliases=frozenset(runtime.aliases),
    )


def store_error(exc: PromptStoreError) -> GatewayError:
    kind = {404: ErrorKind.NOT_FOUND, 409: ErrorKind.CONFLICT}.get(
        exc.status, ErrorKind.INVALID_REQUEST
    )
    code = {404: ErrorCode.PROMPT_NOT_FOUND, 409: ErrorCode.CONFLICT}.get(
        exc.status, ErrorCode.INVALID_VALUE
    )
    return GatewayError(kind, exc.message, code=code, param=exc.param)


def _owner_id(gateway: Gateway, document: PromptDocument) -> str | None:
    if document.tenant is None:
        return None
    tenant = gateway.directory.tenant(document.tenant)
    if tenant is None:
        raise GatewayError.invalid(f"no tenant named {document.tenant!r}", param="tenant")
    return tenant.id


def _path_name(request: web.Request) -> str:
    name = request.match_info["prompt"]
    if not is_name(name):
        raise GatewayError.invalid(
            f"a prompt's name must match [a-z0-9][a-z0-9._-]{{0,63}} (got {name!r})",
            param="name",
        )
    return name


def _path_prompt(request: web.Request) -> Prompt:
    name = _path_name(request)
    prompt = gateway_of(request).prompts.prompt(name)
    if prompt is None:
        raise prompt_not_found(f"no prompt named {name!r}", "name")
    return prompt


def _summary(prompt: Prompt) -> PromptSummary:
    return PromptSummary(
        name=prompt.name, tenant=prompt.tenant, latest=prompt.latest,
        labels=dict(sorted(prompt.labels.items())),
    )


def _finding(finding: Finding) -> FindingOut:
    return FindingOut.model_validate(finding.as_json())
