"""What a feedback body may hold; everything else is a 400 naming the field."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

MAX_VALUE_CHARS = 1_000
MAX_COMMENT_CHARS = 10_000
# A correction is a better answer, as long as answers are.
MAX_CORRECTION_CHARS = 200_000


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    # Booleans first: a strict union keeps true as true rather than 1.
    value: StrictBool | StrictInt | StrictFloat | StrictStr
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)
    correction: str | None = Field(default=None, min_length=1, max_length=MAX_CORRECTION_CHARS)
    id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$"
    )

    def checked_value(self) -> bool | int | float | str:
        value = self.value
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise ValueError(f"value: a string value is at most {MAX_VALUE_CHARS} characters")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("value: must be a finite number")
        return value
