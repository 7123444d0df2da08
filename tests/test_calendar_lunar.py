"""Lunar ↔ Gregorian conversions, checked against the `holidays` package's own lunar tables."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest

from service.calendar import lunar
from service.calendar.lunar import LunarDay


@pytest.mark.parametrize(
    ("lunar_date", "gregorian"),
    [
        ((2026, 1, 1), date(2026, 2, 17)),  # 春节
        ((2027, 1, 1), date(2027, 2, 6)),
        ((2027, 1, 15), date(2027, 2, 20)),  # 元宵
        ((2026, 5, 5), date(2026, 6, 19)),  # 端午
        ((2026, 7, 7), date(2026, 8, 19)),  # 七夕
        ((2026, 8, 15), date(2026, 9, 25)),  # 中秋
        ((2025, 12, 8), date(2026, 1, 26)),  # 腊八 of lunar 2025, in Gregorian 2026
    ],
)
def test_to_gregorian(lunar_date: tuple[int, int, int], gregorian: date) -> None:
    assert lunar.to_gregorian(*lunar_date) == gregorian
    assert lunar.to_lunar(gregorian) == LunarDay(*lunar_date)


def test_day_30_of_a_29_day_month_falls_on_day_29() -> None:
    assert lunar.month_length(2026, 2) == 29  # lunar 2026-02 runs 2026-03-19..04-16
    assert lunar.to_gregorian(2026, 2, 30) == lunar.to_gregorian(2026, 2, 29) == date(2026, 4, 16)
    assert lunar.month_length(2026, 1) == 30
    assert lunar.to_gregorian(2026, 1, 30) == date(2026, 3, 18)


def test_a_leap_month_date_is_kept_in_the_regular_month() -> None:
    # Lunar 2025 has a leap sixth month (闰六月): 2025-07-25 is its first day.
    assert lunar.to_lunar(date(2025, 7, 25)) == LunarDay(2025, 6, 1, is_leap_month=True)
    assert lunar.to_gregorian(2025, 6, 1) == date(2025, 6, 25)


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2022, [(2021, date(2022, 1, 10)), (2022, date(2022, 12, 30))]),  # two 腊八
        (2023, []),  # and none
        (2026, [(2025, date(2026, 1, 26))]),
    ],
)
def test_lunar_date_in_gregorian_year(year: int, expected: list[tuple[int, date]]) -> None:
    assert lunar.in_gregorian_year(year, 12, 8) == expected


def test_outside_the_tables_is_a_range_error() -> None:
    with pytest.raises(lunar.LunarRangeError):
        lunar.to_gregorian(2100, 1, 1)
    with pytest.raises(lunar.LunarRangeError):
        lunar.to_lunar(date(1899, 12, 31))
    with pytest.raises(ValueError, match="no lunar month/day"):
        lunar.to_gregorian(2026, 13, 1)


def _dates(country: str, years: range, name: str) -> list[date]:
    calendar = holidays.country_holidays(country, years=years, observed=False, language="en_US")
    return sorted({day for day, names in calendar.items() if name in names.split("; ")})


@pytest.mark.parametrize(
    ("country", "name", "month", "day"),
    [
        ("CN", "Chinese New Year (Spring Festival)", 1, 1),
        ("CN", "Dragon Boat Festival", 5, 5),
        ("CN", "Mid-Autumn Festival", 8, 15),
        ("HK", "Double Ninth Festival", 9, 9),
    ],
)
def test_lunardate_agrees_with_the_holidays_tables(
    country: str, name: str, month: int, day: int
) -> None:
    """Two independent lunar tables agree on every year both know (1950/2008 to 2099)."""
    seen = _dates(country, range(1950, 2100), name)
    first_days = [d for d in seen if d - timedelta(days=1) not in seen]  # 春节 lasts 3 days
    assert len(first_days) > 80
    # The one disagreement: the ninth month of 2057 starts on a new moon minutes from
    # midnight in Beijing, and the tables round it to different days; we follow lunardate.
    disagree = {date(2057, 10, 7): date(2057, 10, 6)}
    for holiday in first_days:
        expected = disagree.get(holiday, holiday)
        assert lunar.to_gregorian(holiday.year, month, day) == expected, holiday


def test_new_years_eve_is_the_last_day_of_the_twelfth_month() -> None:
    """Taiwan's 除夕 checks the lengths of the twelfth months from 2000 to 2099."""
    seen = _dates("TW", range(2000, 2100), "Chinese New Year's Eve")
    eves = [d for d in seen if d + timedelta(days=1) not in seen]  # some years rest two days
    assert len(eves) >= 99
    for eve in eves:
        new_year = eve + timedelta(days=1)
        assert lunar.to_lunar(new_year) == LunarDay(new_year.year, 1, 1)
        assert lunar.to_gregorian(new_year.year - 1, 12, 30) == eve, eve
