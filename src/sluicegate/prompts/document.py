"""A prompt version document: what an author writes, and what makes two versions the same.

The same model reads the admin API's JSON body and a ``prompt-push`` YAML file,
so both are checked alike: unknown fields are errors, names and labels keep to
one alphabet, and a document has a bounded size (a prompt is read into every
replica's memory, and rendered on the request path).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A prompt's name: lower case, so that names are never told apart by case alone.
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
# A label starts with a letter: "@3" is a version, "@staging" a label.
LABEL_PATTERN = r"^[a-z][a-z0-9._-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)
_LABEL = re.compile(LABEL_PATTERN)
# The label a request gets when it names neither a label nor a version.
DEFAULT_LABEL = "production"
# Always the newest version; implicit, so it cannot be moved.
LATEST = "latest"
# Bounds: the whole document as JSON, and the messages of one version.
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_MESSAGES = 100

Role = Literal["system", "developer", "user", "assistant"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptMessage(_Strict):
    role: Role
    # A Jinja2 template: {{ name }} inserts a variable's value as it is.
    content: str = Field(max_length=MAX_DOCUMENT_BYTES)


class PromptParams(_Strict):
    """Generation defaults; a request's own value for any of them wins."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    stop: list[str] | None = Field(default=None, max_length=4)
    seed: int | None = None


class PromptDocument(_Strict):
    name: str = Field(pattern=NAME_PATTERN, description="[a-z0-9][a-z0-9._-]{0,63}")
    tenant: str | None = Field(
        default=None, description="null: a platform prompt; a tenant's name: only it sees it"
    )
    model: str | None = Field(
        default=None, description="the alias that serves a request naming the prompt as model"
    )
    messages: list[PromptMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    variables: dict[str, Any] | None = Field(
        default=None, description="a JSON Schema (draft 2020-12) object schema"
    )
    params: PromptParams = PromptParams()
    response_format: dict[str, Any] | None = None

    @field_validator("tenant")
    @classmethod
    def _tenant_named(cls, tenant: str | None) -> str | None:
        if tenant is not None and not tenant:
            raise ValueError("must be a tenant's name, or null for a platform prompt")
        return tenant

    @model_validator(mode="after")
    def _bounded(self) -> PromptDocument:
        size = self.size()
        if size > MAX_DOCUMENT_BYTES:
            raise ValueError(
                f"the document is {size} bytes as JSON; at most {MAX_DOCUMENT_BYTES} are allowed"
            )
        return self

    def content(self) -> dict[str, Any]:
        """What a version is: everything but the name and the owner, which belong to the
        prompt and never change between its versions."""
        return self.model_dump(mode="json", exclude={"name", "tenant"}, exclude_defaults=True)

    def content_hash(self) -> str:
        """``sha256:`` and the digest of the content as canonical JSON (sorted keys): the
        same content, however it was spelled or ordered, is the same version."""
        canonical = orjson.dumps(self.content(), option=orjson.OPT_SORT_KEYS)
        return "sha256:" + hashlib.sha256(canonical).hexdigest()

    def size(self) -> int:
        return len(orjson.dumps(self.model_dump(mode="json")))


def is_name(value: str) -> bool:
    return _NAME.fullmatch(value) is not None


def is_label(value: str) -> bool:
    return _LABEL.fullmatch(value) is not None
