"""What the members API accepts and returns."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from service.analytics.models import Segment, Stage, ValueTier
from service.inputs import InputModel
from service.members.models import Channel, Gender

Tag = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
ShortText = Annotated[str, StringConstraints(max_length=200)]


def _check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_zone)]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$")]


class LunarBirthday(InputModel):
    """A birthday kept on the Chinese lunar calendar (农历生日)."""

    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=30)


class MemberIn(InputModel):
    """Create or update a member. Omitted fields stay as they are; null clears a field."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "王小明",
                    "phone": "13812345678",
                    "email": "xiaoming@example.com",
                    "gender": "male",
                    "birthday": "1990-08-15",
                    "city": "杭州",
                    "locale": "zh-CN",
                    "tags": ["vip"],
                    "attributes": {"skin_type": "dry"},
                    "consent": {"sms": True, "email": True},
                }
            ]
        },
    )

    name: ShortText | None = None
    phone: Annotated[str, StringConstraints(max_length=32)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    gender: Gender | None = None
    birthday: date | None = None
    lunar_birthday: LunarBirthday | None = None
    city: Annotated[str, StringConstraints(max_length=100)] | None = None
    region: Annotated[str, StringConstraints(max_length=100)] | None = None
    locale: Locale | None = None
    timezone: TimeZoneName | None = None
    tags: Annotated[list[Tag], Field(max_length=100)] | None = None
    attributes: (
        dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], JsonValue] | None
    ) = None
    consent: dict[Channel, bool] | None = Field(
        default=None, description="Initial marketing consent per channel; ignored once recorded."
    )


class ConsentIn(InputModel):
    granted: bool
    source: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "api"


class ConsentOut(BaseModel):
    granted: bool
    source: str
    changed_at: datetime


class RfmScores(BaseModel):
    """Quintile scores 1-5 over the shop's buyers, as of the last recompute (5 = best)."""

    recency: int
    frequency: int
    monetary: int


class MemberStats(BaseModel):
    paid_orders: int
    total_spent: Decimal
    average_order_value: Decimal
    first_paid_at: datetime | None
    last_paid_at: datetime | None
    days_since_last_paid: int | None
    rfm: RfmScores | None = None
    segment: Segment | None = None
    stage: Stage | None = None
    value_tier: ValueTier | None = None
    promo_share: float | None = Field(
        default=None, description="Share of the paid orders that were promotional (0-1)."
    )


class MemberOut(BaseModel):
    external_id: str
    name: str | None
    phone: str | None
    email: str | None
    gender: Gender
    birthday: date | None
    lunar_birthday: LunarBirthday | None
    city: str | None
    region: str | None
    locale: str
    timezone: str | None
    tags: list[str]
    attributes: dict[str, Any]
    consent: dict[Channel, ConsentOut]
    suppressed_channels: list[Channel] = Field(
        description="Channels whose contact is suppressed (erased, bounced, opted out)."
    )
    stats: MemberStats
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None


class MemberPage(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None
