"""What the calendar API returns."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from service.calendar.occasions import CalendarSystem, OccasionKind


class LunarDateOut(BaseModel):
    year: int
    month: int
    day: int
    is_leap_month: bool


class OccasionOut(BaseModel):
    occasion_id: str = Field(description="`<key>:<year>`, the entry key a calendar trigger uses.")
    kind: OccasionKind
    key: str = Field(description="The name to use in a trigger's occasion, e.g. `double_11`.")
    date: date
    lunar: LunarDateOut = Field(description="The same day on the Chinese lunar calendar (农历).")
    calendar: CalendarSystem | None = Field(
        description="The calendar the date is defined on; null for public holidays."
    )
    name_zh: str
    name_en: str


class OccasionList(BaseModel):
    country: str
    year: int
    occasions: list[OccasionOut]
