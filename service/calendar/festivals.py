"""E-commerce and cultural festivals, the same in every country: 618, 双11, 七夕, 母亲节, …

年货节 (the New-Year goods fair) is left out: each platform sets its dates every year, so there
is no date rule to compute it from.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from service.calendar import lunar


@dataclass(frozen=True)
class FixedDate:
    """The same Gregorian month and day every year."""

    month: int
    day: int

    def dates_in(self, year: int) -> list[tuple[int, date]]:
        return [(year, date(year, self.month, self.day))]


@dataclass(frozen=True)
class LunarMonthDay:
    """A lunar month and day; its occurrence is named by the lunar year."""

    month: int
    day: int

    def dates_in(self, year: int) -> list[tuple[int, date]]:
        return lunar.in_gregorian_year(year, self.month, self.day)


@dataclass(frozen=True)
class NthWeekday:
    """The n-th weekday (0 = Monday) of a month, such as the second Sunday of May."""

    month: int
    weekday: int
    n: int

    def dates_in(self, year: int) -> list[tuple[int, date]]:
        first = date(year, self.month, 1)
        offset = (self.weekday - first.weekday()) % 7
        return [(year, first + timedelta(days=offset + 7 * (self.n - 1)))]


DateRule = FixedDate | LunarMonthDay | NthWeekday


@dataclass(frozen=True)
class Festival:
    key: str
    name_zh: str
    name_en: str
    rule: DateRule

    @property
    def is_lunar(self) -> bool:
        return isinstance(self.rule, LunarMonthDay)


FESTIVALS: dict[str, Festival] = {
    f.key: f
    for f in [
        Festival("valentines_day", "情人节", "Valentine's Day", FixedDate(2, 14)),
        Festival("lantern_festival", "元宵节", "Lantern Festival", LunarMonthDay(1, 15)),
        Festival("womens_day", "妇女节（女神节）", "International Women's Day", FixedDate(3, 8)),
        Festival("day_520", "520 表白日", "520 Day (I love you)", FixedDate(5, 20)),
        Festival("mothers_day", "母亲节", "Mother's Day", NthWeekday(5, calendar.SUNDAY, 2)),
        Festival("mid_year_sale", "618 年中大促", "618 Mid-Year Sale", FixedDate(6, 18)),
        Festival("fathers_day", "父亲节", "Father's Day", NthWeekday(6, calendar.SUNDAY, 3)),
        Festival("qixi", "七夕", "Qixi Festival (Chinese Valentine's Day)", LunarMonthDay(7, 7)),
        Festival("double_ninth", "重阳节", "Double Ninth Festival", LunarMonthDay(9, 9)),
        Festival("double_11", "双11", "Singles' Day (Double 11)", FixedDate(11, 11)),
        Festival("double_12", "双12", "Double 12", FixedDate(12, 12)),
        Festival("christmas", "圣诞节", "Christmas", FixedDate(12, 25)),
        Festival("laba", "腊八节", "Laba Festival", LunarMonthDay(12, 8)),
    ]
}


def festival_dates(key: str, year: int) -> list[tuple[str, date]]:
    """(occasion id, date) of a festival falling in a Gregorian year; lunar ones may be 0-2."""
    return [(f"{key}:{named}", day) for named, day in FESTIVALS[key].rule.dates_in(year)]
