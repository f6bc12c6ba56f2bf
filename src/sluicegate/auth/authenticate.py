"""Stage: turn the request's API key into a tenant, or end it with 401."""

from __future__ import annotations

from collections.abc import Mapping

from sluicegate.canonical import ErrorCode, ErrorKind, GatewayError
from sluicegate.pipeline import Events, Next, Request
from sluicegate.state.directory import ApiKey, Directory, Tenant

MAX_TAGS = 16
MAX_TAG_LENGTH = 64
SESSION_HEADER = "x-sluicegate-session"
MAX_SESSION_LENGTH = 128


class Authenticate:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    async def __call__(self, request: Request, call_next: Next) -> Events:
        headers = request.headers
        api_key, tenant = key_holder(self.directory, headers)
        raw_tags = headers.get("x-sluicegate-tags")
        tags = parse_tags(raw_tags) if raw_tags else ()
        raw_session = headers.get(SESSION_HEADER)
        if raw_session is None:
            return await call_next(request.replace(api_key=api_key, tenant=tenant, tags=tags))
        return await call_next(
            request.replace(
                api_key=api_key, tenant=tenant, tags=tags, session=parse_session(raw_session)
            )
        )


def key_holder(directory: Directory, headers: Mapping[str, str]) -> tuple[ApiKey, Tenant]:
    """The key the headers carry and its tenant; 401 when there is none or it is unknown."""
    token = api_key_of(headers)
    if not token:
        raise GatewayError(
            ErrorKind.AUTHENTICATION,
            "missing API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'",
            code=ErrorCode.MISSING_API_KEY,
        )
    found = directory.authenticate(token)
    if found is None:
        raise GatewayError(
            ErrorKind.AUTHENTICATION, "invalid API key", code=ErrorCode.INVALID_API_KEY
        )
    return found


def api_key_of(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = headers.get("x-api-key")
    return key.strip() if key else None


def parse_session(raw: str) -> str:
    """The session id as sent, trimmed; 400 unless 1 to 128 printable ASCII characters
    (it is a label in reports and a key in queries, never free text)."""
    session = raw.strip()
    if not session or len(session) > MAX_SESSION_LENGTH or not session.isprintable() or (
        not session.isascii()
    ):
        raise GatewayError.invalid(
            f"{SESSION_HEADER} must be 1 to {MAX_SESSION_LENGTH} printable ASCII characters",
            param=SESSION_HEADER,
        )
    return session


def parse_tags(raw: str) -> tuple[str, ...]:
    """``"team:search, batch"`` -> ``("batch", "team:search")``: trimmed, deduplicated, bounded."""
    tags = {t.strip()[:MAX_TAG_LENGTH] for t in raw.split(",")}
    tags.discard("")
    if len(tags) > MAX_TAGS:
        raise GatewayError.invalid(
            f"too many tags in x-sluicegate-tags (at most {MAX_TAGS})", param="x-sluicegate-tags"
        )
    return tuple(sorted(tags))
