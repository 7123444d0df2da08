"""The Chinese lunar calendar (农历): conversions both ways, through the `lunardate` tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lunardate import LunarDate

# lunardate's tables cover lunar years 1900-2099; the first and last Gregorian years whose
# lunar dates (and a laba festival in the January after) are all known:
FIRST_YEAR, LAST_YEAR = 1901, 2099


class LunarRangeError(ValueError):
    """A date outside the lunar calendar tables."""


@dataclass(frozen=True)
class LunarDay:
    """One day of the lunar calendar; `is_leap_month` marks a day of an intercalary month (闰月)."""

    year: int
    month: int
    day: int
    is_leap_month: bool = False


def _check_year(year: int) -> None:
    if not FIRST_YEAR - 1 <= year <= LAST_YEAR:
        raise LunarRangeError(f"lunar year {year} is outside {FIRST_YEAR - 1}-{LAST_YEAR}")


def to_lunar(day: date) -> LunarDay:
    """The lunar date of a Gregorian date."""
    try:
        lunar = LunarDate.from_solar_date(day.year, day.month, day.day)
        # Before the tables lunardate answers nonsense (day -30) rather than failing.
        if lunar.to_solar_date() != day:
            raise ValueError(day)
    except ValueError as exc:
        raise LunarRangeError(f"{day} is outside the lunar calendar tables") from exc
    return LunarDay(lunar.year, lunar.month, lunar.day, bool(lunar.is_leap_month))


def month_length(year: int, month: int, *, is_leap_month: bool = False) -> int:
    """Days in a lunar month: 29 (小月) or 30 (大月)."""
    _check_year(year)
    try:
        LunarDate(year, month, 30, is_leap_month).to_solar_date()
    except ValueError:
        return 29
    return 30


def to_gregorian(year: int, month: int, day: int) -> date:
    """The Gregorian date of lunar month/day in a lunar year, always in the regular month.

    Day 30 of a 29-day month falls on day 29, and a date in a leap month is kept in the
    regular month of that number: how a lunar birthday or anniversary is celebrated.
    """
    _check_year(year)
    if not 1 <= month <= 12 or not 1 <= day <= 30:
        raise ValueError(f"no lunar month/day {month}/{day}")
    last = month_length(year, month)
    return LunarDate(year, month, min(day, last)).to_solar_date()  # type: ignore[no-any-return]


def in_gregorian_year(year: int, month: int, day: int) -> list[tuple[int, date]]:
    """(lunar year, date) of lunar month/day falling in a Gregorian year: usually one, 0-2 late
    in the lunar year (the 腊八 of lunar 2021 fell on 2022-01-10, that of lunar 2022 on 2022-12-30).
    """
    found = []
    for lunar_year in (year - 1, year):
        if FIRST_YEAR - 1 <= lunar_year <= LAST_YEAR:
            day_date = to_gregorian(lunar_year, month, day)
            if day_date.year == year:
                found.append((lunar_year, day_date))
    return found
