"""The prompt routes' bodies and answers (the version document itself is
:class:`sluicegate.prompts.PromptDocument`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sluicegate.prompts.document import LABEL_PATTERN


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True)


class FindingOut(_Response):
    rule: str = Field(description="a stable rule id, e.g. undefined-variable")
    severity: Literal["error", "warning"]
    message: str
    path: str = Field(description="where in the document, e.g. messages[0].content")
    line: int | None = Field(default=None, description="the line within that text")


class VersionCreateQuery(_Request):
    force: bool = Field(default=False, description="store the version despite lint errors")


class VersionCreated(_Response):
    name: str
    version: int
    hash: str
    created_at: float
    created: bool = Field(description="false: the same content was already this version")
    lint: list[FindingOut]


class LintResult(_Response):
    findings: list[FindingOut]


class PromptSummary(_Response):
    name: str
    tenant: str | None
    latest: int
    labels: dict[str, int]


class PromptList(_Response):
    data: list[PromptSummary]


class PromptListQuery(_Request):
    tenant: str | None = Field(default=None, description="only this tenant's prompts")


class VersionSummary(_Response):
    version: int
    hash: str
    created_at: float


class LabelMoveOut(_Response):
    model_config = ConfigDict(frozen=True, serialize_by_alias=True, validate_by_name=True)

    label: str
    from_: int | None = Field(alias="from", description="null: the label was new")
    to: int
    at: float


class PromptDetail(_Response):
    name: str
    tenant: str | None
    latest: int
    versions: list[VersionSummary]
    labels: dict[str, int]
    label_history: list[LabelMoveOut]


class LabelMove(_Request):
    version: int = Field(ge=1, description="the version the label is to point at")
    expected_version: int | None = Field(
        default=None,
        ge=0,
        description="only if the label points at this version now (0: only if it is new); "
        "409 otherwise",
    )


class LabelMoved(_Response):
    name: str
    label: str = Field(pattern=LABEL_PATTERN)
    version: int
    previous: int | None


class RenderRequest(_Request):
    tenant: str | None = Field(default=None, description="render as this tenant sees it")
    label: str | None = None
    version: int | None = Field(default=None, ge=1)
    variables: dict[str, Any] = {}
    messages: list[dict[str, Any]] = Field(
        default=[], description="the request's own messages (OpenAI format)"
    )


class Rendered(_Response):
    prompt: str = Field(description="NAME@VERSION")
    model: str | None = Field(description="the alias that would serve it")
    messages: list[dict[str, Any]] = Field(description="what the upstream gets, OpenAI format")
    params: dict[str, Any]
