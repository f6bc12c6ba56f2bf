"""The admin API's models for alerts, sessions and model cards."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sluicegate.admin.schemas import Instant


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


AlertType = Literal["budget", "forecast", "drift", "model_changed", "rollout", "lifecycle"]


class AlertsQuery(_Request):
    type: AlertType | None = Field(default=None, description="Only alerts of this type.")
    since: Instant | None = Field(default=None, description="Only alerts raised since.")
    limit: int = Field(default=100, ge=1, le=1000)


class AlertOut(_Response):
    """One alert, as the webhook got it: its type, when, and its own fields."""

    type: str
    at: float = Field(description="Unix seconds when it was raised.")
    message: str | None = None


class AlertList(_Response):
    data: list[AlertOut]


class SessionsQuery(_Request):
    tenant: str | None = Field(default=None, description="The tenant that has this name now.")
    since: Instant | None = Field(default=None, description="Requests since, inclusive.")
    until: Instant | None = Field(default=None, description="Requests until, exclusive.")
    limit: int = Field(default=100, ge=1, le=1000)


class FeedbackFigure(_Response):
    n: int
    mean: float | None = Field(description="Mean of the numeric values (booleans as 0/1).")


class SessionOut(_Response):
    session: str
    tenant: str | None
    tenant_id: str | None
    requests: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    first_at: float
    last_at: float
    errors: int
    feedback: dict[str, FeedbackFigure]


class SessionList(_Response):
    data: list[SessionOut]


class CardQuery(_Request):
    since: Instant | None = Field(default=None, description="Window start (default: 24 h ago).")
    until: Instant | None = Field(default=None, description="Window end (default: now).")
    format: Literal["json", "markdown"] = "json"


class ModelCard(_Response):
    """What an alias did over a window, beside its baseline, and the drift tests."""

    alias: str
    targets: list[str]
    window: dict[str, Any]
    requests: int
    baseline: dict[str, Any]
    drift: list[dict[str, Any]]


class BaselineReset(_Response):
    alias: str
    since: float = Field(description="The baseline is the first N requests from here.")
