"""What every request body shares: unknown fields refused, only values both databases can store."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, field_validator

NUL = "\x00"


def unstorable(value: Any, where: str = "") -> str | None:
    """Why PostgreSQL would refuse this JSON-like value (text with NUL, NaN, ±Infinity), or None."""
    at = f" at {where.removeprefix('.')}" if where else ""
    if isinstance(value, str):
        return f"text contains a NUL character (U+0000){at}" if NUL in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"number is not finite ({value}){at}"
    pairs: Any = ()
    if isinstance(value, list | tuple):
        pairs = ((None, f"{where}[{i}]", item) for i, item in enumerate(value))
    elif isinstance(value, dict):
        pairs = ((key, f"{where}.{key}", item) for key, item in value.items())
    for key, path, item in pairs:
        if reason := unstorable(key, f"{where} (a key)".lstrip()) or unstorable(item, path):
            return reason
    return None


class InputModel(BaseModel):
    """Base of request bodies. PostgreSQL cannot store NUL in text nor NaN in JSON, so such a
    value is a 422 naming its field, here, on every database, instead of a 500 from the driver."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if reason := unstorable(value):
            raise ValueError(reason)
        return value


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00 is before datetime.min in UTC
        raise ValueError("instant is outside the years 1 to 9999 once in UTC") from None


UtcInstant = Annotated[AwareDatetime, AfterValidator(_as_utc)]
"""An instant with its offset, given back in UTC; naive or out-of-range values are a 422."""
