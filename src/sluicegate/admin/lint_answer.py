"""The 422 answer for what the prompt linter refuses: the OpenAI error body, with every
finding under ``lint`` (a prompt version, a tenant's layer)."""

from __future__ import annotations

import orjson
from aiohttp import web

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.http_errors import JSON
from sluicegate.prompts.lint import Finding
from sluicegate.protocols.openai.errors import encode_error


def lint_failed(findings: list[Finding]) -> web.Response:
    errors = [f for f in findings if f.severity == "error"]
    err = GatewayError(
        ErrorKind.UNPROCESSABLE,
        f"the prompt linter found {len(errors)} error(s): "
        + "; ".join(f"{f.rule} at {f.path}" for f in errors)
        + " (add ?force=true to store it anyway)",
        code=ErrorCode.PROMPT_LINT_FAILED,
        param=errors[0].path,
    )
    body = orjson.loads(encode_error(err))
    body["lint"] = [f.as_json() for f in findings]
    return web.Response(status=422, body=orjson.dumps(body), content_type=JSON)
