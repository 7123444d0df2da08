"""Which birthdays fall on a local date: pure rules, compiled to SQL in `queries`.

Gregorian: a Feb 29 birthday is celebrated on Feb 28 in other years. Lunar (农历生日, the
member's `lunar_birth_month`/`lunar_birth_day`): always in the regular month of that number,
never in a leap month (闰月), and day 30 on day 29 when the month has only 29 days.
"""

from __future__ import annotations

import calendar as gregorian
from dataclasses import dataclass
from datetime import date

from service.calendar import lunar


@dataclass(frozen=True)
class MonthDays:
    """Birth month and the birth days that are celebrated on one date."""

    month: int
    days: tuple[int, ...]


def gregorian_birthdays_on(day: date) -> MonthDays:
    if day.month == 2 and day.day == 28 and not gregorian.isleap(day.year):
        return MonthDays(2, (28, 29))
    return MonthDays(day.month, (day.day,))


def lunar_birthdays_on(day: date) -> MonthDays | None:
    """None on days of a leap month, when no lunar birthday is celebrated."""
    lunar_day = lunar.to_lunar(day)
    if lunar_day.is_leap_month:
        return None
    if lunar_day.day == 29 and lunar.month_length(lunar_day.year, lunar_day.month) == 29:
        return MonthDays(lunar_day.month, (29, 30))
    return MonthDays(lunar_day.month, (lunar_day.day,))


def birthdays_on(day: date, *, is_lunar: bool) -> MonthDays | None:
    return lunar_birthdays_on(day) if is_lunar else gregorian_birthdays_on(day)


def birthday_occasion_id(day: date, *, is_lunar: bool) -> str:
    """`birthday:<year>`: the Gregorian year, or for lunar birthdays the lunar year of the day."""
    return f"birthday:{lunar.to_lunar(day).year if is_lunar else day.year}"


def anniversary_in_year(month: int, day: int, year: int, *, is_lunar: bool) -> date:
    """The date a birthday or custom occasion on month/day is celebrated in a (lunar) year."""
    if is_lunar:
        return lunar.to_gregorian(year, month, day)
    return date(year, month, min(day, gregorian.monthrange(year, month)[1]))
