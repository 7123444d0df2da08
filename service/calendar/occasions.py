"""Occasions a journey can be triggered by, and their occurrences on the calendar.

An occurrence is named `<key>:<year>`. The year is the Gregorian year for Gregorian dates and
public holidays, and the lunar year for lunar dates: the 腊八 of lunar year 2025 falls on
2026-01-26 and is `laba:2025`, so every occurrence id is unique even where a lunar date falls
twice (or never) in one Gregorian year.
"""

from __future__ import annotations

import calendar as gregorian
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from service.calendar import lunar
from service.calendar.birthdays import anniversary_in_year, birthday_occasion_id, birthdays_on
from service.calendar.festivals import FESTIVALS, festival_dates
from service.calendar.public_holidays import holidays_in_year


class OccasionKind(StrEnum):
    HOLIDAY = "holiday"
    FESTIVAL = "festival"
    CUSTOM = "custom"
    BIRTHDAY = "birthday"


class CalendarSystem(StrEnum):
    GREGORIAN = "gregorian"
    LUNAR = "lunar"


Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]{0,62}$")]


class HolidayOccasion(BaseModel):
    """A public holiday of the shop's country, by key (`spring_festival`, `mid_autumn`, …)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["holiday"]
    name: Slug


class FestivalOccasion(BaseModel):
    """An e-commerce or cultural festival (`double_11`, `qixi`, …), the same in every country."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["festival"]
    name: str

    @field_validator("name")
    @classmethod
    def known_festival(cls, name: str) -> str:
        if name not in FESTIVALS:
            raise ValueError(f"unknown festival {name!r}; known: {', '.join(FESTIVALS)}")
        return name


class CustomOccasion(BaseModel):
    """A date of the marketer's own, such as the shop's anniversary; Feb 29 is kept on Feb 28
    in other years, lunar day 30 on day 29 of a short month."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["custom"]
    name: Slug
    calendar: CalendarSystem = CalendarSystem.GREGORIAN
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)

    @field_validator("day")
    @classmethod
    def day_in_month(cls, day: int, info: ValidationInfo) -> int:
        month, system = info.data.get("month"), info.data.get("calendar")
        if system == CalendarSystem.LUNAR and day > 30:
            raise ValueError("a lunar month has at most 30 days")
        if system == CalendarSystem.GREGORIAN and month is not None:
            last = gregorian.monthrange(2024, month)[1]  # a leap year: Feb 29 is allowed
            if day > last:
                raise ValueError(f"month {month} has at most {last} days")
        return day


class BirthdayOccasion(BaseModel):
    """Each member's birthday, Gregorian (`birthday`) or lunar (`lunar_birth_month`/`_day`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["birthday"]
    calendar: CalendarSystem = CalendarSystem.GREGORIAN


OccasionSpec = Annotated[
    HolidayOccasion | FestivalOccasion | CustomOccasion | BirthdayOccasion,
    Field(discriminator="kind"),
]


@dataclass(frozen=True)
class Occurrence:
    """One occasion on one local date; `calendar` is None for public holidays."""

    occasion_id: str
    kind: OccasionKind
    key: str
    local_date: date
    name_zh: str
    name_en: str
    calendar: CalendarSystem | None


def _custom_dates(spec: CustomOccasion, year: int) -> list[tuple[int, date]]:
    """(year naming the occurrence, date) of a custom occasion falling in a Gregorian year."""
    if spec.calendar == CalendarSystem.LUNAR:
        return lunar.in_gregorian_year(year, spec.month, spec.day)
    return [(year, anniversary_in_year(spec.month, spec.day, year, is_lunar=False))]


def _holidays(spec: HolidayOccasion | None, country: str, year: int) -> list[Occurrence]:
    return [
        Occurrence(
            h.occasion_id,
            OccasionKind.HOLIDAY,
            h.name.key,
            h.local_date,
            h.name.name_zh,
            h.name.name_en,
            None,
        )
        for h in holidays_in_year(country, year)
        if spec is None or h.name.key == spec.name
    ]


def _festivals(keys: Iterable[str], year: int) -> list[Occurrence]:
    occurrences = []
    for key in keys:
        festival = FESTIVALS[key]
        system = CalendarSystem.LUNAR if festival.is_lunar else CalendarSystem.GREGORIAN
        occurrences += [
            Occurrence(
                occasion_id,
                OccasionKind.FESTIVAL,
                key,
                day,
                festival.name_zh,
                festival.name_en,
                system,
            )
            for occasion_id, day in festival_dates(key, year)
        ]
    return occurrences


def occurrences_in_year(
    spec: HolidayOccasion | FestivalOccasion | CustomOccasion, *, country: str, year: int
) -> list[Occurrence]:
    """Occurrences of a dated occasion whose local date falls in a Gregorian year."""
    if isinstance(spec, HolidayOccasion):
        return _holidays(spec, country, year)
    if isinstance(spec, FestivalOccasion):
        return _festivals([spec.name], year)
    return [
        Occurrence(
            f"{spec.name}:{named}",
            OccasionKind.CUSTOM,
            spec.name,
            day,
            spec.name,
            spec.name,
            spec.calendar,
        )
        for named, day in _custom_dates(spec, year)
    ]


def _birthdays(spec: BirthdayOccasion, first: date, last: date) -> list[Occurrence]:
    """A birthday occurrence on every date some member may celebrate (not in leap months)."""
    is_lunar = spec.calendar == CalendarSystem.LUNAR
    occurrences = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        if birthdays_on(day, is_lunar=is_lunar) is not None:
            occasion_id = birthday_occasion_id(day, is_lunar=is_lunar)
            occurrences.append(
                Occurrence(
                    occasion_id,
                    OccasionKind.BIRTHDAY,
                    "birthday",
                    day,
                    "生日",
                    "Birthday",
                    spec.calendar,
                )
            )
    return occurrences


def occurrences_between(
    spec: OccasionSpec, *, country: str, first: date, last: date
) -> list[Occurrence]:
    """Occurrences with a local date in [first, last], within the lunar tables' years."""
    first = max(first, date(lunar.FIRST_YEAR, 1, 1))
    last = min(last, date(lunar.LAST_YEAR, 12, 31))
    if isinstance(spec, BirthdayOccasion):
        return _birthdays(spec, first, last)
    found = [
        occurrence
        for year in range(first.year, last.year + 1)
        for occurrence in occurrences_in_year(spec, country=country, year=year)
    ]
    return [o for o in found if first <= o.local_date <= last]


def occasions_in_year(country: str, year: int) -> list[Occurrence]:
    """Every public holiday of the country and every festival in a Gregorian year, by date."""
    found = _holidays(None, country, year) + _festivals(FESTIVALS, year)
    return sorted(found, key=lambda o: (o.local_date, o.kind, o.key))
