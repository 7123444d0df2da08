"""When calendar triggers fire: days_before, `at` in time zones, DST, windows, birthday groups."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from service.calendar.occasions import OccasionSpec
from service.calendar.triggers import Due, due_in_zones, due_occurrences, fire_at

SPEC = TypeAdapter(OccasionSpec)
SH, NY = ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")
TEN = time(10)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


@pytest.mark.parametrize(
    ("local_date", "days_before", "at", "zone", "expected"),
    [
        (date(2027, 2, 6), 0, TEN, SH, utc(2027, 2, 6, 2)),  # 春节 at 10:00 in Shanghai
        (date(2027, 2, 6), 3, TEN, SH, utc(2027, 2, 3, 2)),
        (date(2027, 1, 1), 7, time(20, 30), SH, utc(2026, 12, 25, 12, 30)),  # across the year
        (date(2026, 9, 25), 0, TEN, ZoneInfo("Asia/Kolkata"), utc(2026, 9, 25, 4, 30)),
        (date(2026, 9, 25), 0, TEN, ZoneInfo("Pacific/Kiritimati"), utc(2026, 9, 24, 20)),
        (date(2026, 9, 25), 0, TEN, ZoneInfo("Pacific/Honolulu"), utc(2026, 9, 25, 20)),
        # America/New_York: EST (-5) until 2026-03-08 02:00, EDT (-4) after.
        (date(2026, 3, 7), 0, TEN, NY, utc(2026, 3, 7, 15)),
        (date(2026, 3, 9), 0, TEN, NY, utc(2026, 3, 9, 14)),
        (date(2026, 3, 10), 3, TEN, NY, utc(2026, 3, 7, 15)),  # fires before the change
        (date(2026, 3, 10), 1, TEN, NY, utc(2026, 3, 9, 14)),
        (date(2026, 3, 8), 0, time(2, 30), NY, utc(2026, 3, 8, 7, 30)),  # no 02:30: 03:30 EDT
        (date(2026, 11, 1), 0, time(1, 30), NY, utc(2026, 11, 1, 5, 30)),  # twice: the first
        (date(2026, 11, 2), 1, TEN, NY, utc(2026, 11, 1, 15)),  # back to EST
    ],
)
def test_fire_at(
    local_date: date, days_before: int, at: time, zone: ZoneInfo, expected: datetime
) -> None:
    assert fire_at(local_date, days_before=days_before, at=at, zone=zone) == expected


def due_ids(due: list[Due]) -> list[tuple[str, date, datetime]]:
    return [(d.occurrence.occasion_id, d.occurrence.local_date, d.fire_at) for d in due]


SPRING = SPEC.validate_python({"kind": "holiday", "name": "spring_festival"})


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (utc(2027, 2, 3, 2), utc(2027, 2, 3, 2, 1), ["spring_festival:2027"]),
        (utc(2027, 2, 3, 1, 59), utc(2027, 2, 3, 2), []),  # the window is half open
        (utc(2027, 2, 3, 2, 0, 1), utc(2027, 2, 3, 3), []),
        (utc(2026, 1, 1), utc(2028, 1, 1), ["spring_festival:2026", "spring_festival:2027"]),
    ],
)
def test_due_occurrences_in_the_shop_zone(
    start: datetime, end: datetime, expected: list[str]
) -> None:
    due = due_occurrences(
        SPRING, country="CN", days_before=3, at=TEN, zone="Asia/Shanghai", start=start, end=end
    )
    assert [d.occurrence.occasion_id for d in due] == expected
    assert all(d.zones == {"Asia/Shanghai"} for d in due)


def test_dst_in_new_york_moves_the_utc_instant_not_the_local_time() -> None:
    spec = SPEC.validate_python({"kind": "custom", "name": "sale", "month": 3, "day": 9})
    args = {"country": "US", "days_before": 0, "at": TEN, "zone": "America/New_York"}
    assert due_occurrences(spec, **args, start=utc(2026, 3, 9, 14), end=utc(2026, 3, 9, 14, 1))
    assert not due_occurrences(spec, **args, start=utc(2026, 3, 9, 15), end=utc(2026, 3, 9, 16))
    assert due_occurrences(spec, **args, start=utc(2025, 3, 9, 14), end=utc(2025, 3, 9, 14, 1))


def test_lunar_birthdays_are_due_in_the_zones_at_ten() -> None:
    spec = SPEC.validate_python({"kind": "birthday", "calendar": "lunar"})
    start = utc(2026, 9, 25, 2)  # 10:00 in UTC+8
    [due] = due_in_zones(
        spec, country="CN", days_before=0, at=TEN, start=start, end=start + timedelta(minutes=1)
    )
    assert due_ids([due]) == [("birthday:2026", date(2026, 9, 25), start)]
    assert {"Asia/Shanghai", "Asia/Singapore", "Australia/Perth"} <= due.zones
    assert "Asia/Tokyo" not in due.zones
    assert due.occurrence.calendar == "lunar"


def test_zones_on_both_sides_of_the_date_line_get_their_own_dates() -> None:
    spec = SPEC.validate_python({"kind": "birthday"})
    start = utc(2026, 9, 24, 20)  # 10:00 on the 25th in Kiritimati, on the 24th in Honolulu
    due = due_in_zones(
        spec,
        country="CN",
        days_before=0,
        at=TEN,
        start=start,
        end=start + timedelta(minutes=1),
        zones=["Pacific/Kiritimati", "Pacific/Honolulu", "Asia/Shanghai"],
    )
    assert [(d.occurrence.local_date, d.zones) for d in due] == [
        (date(2026, 9, 24), {"Pacific/Honolulu"}),
        (date(2026, 9, 25), {"Pacific/Kiritimati"}),
    ]


def test_birthday_days_before_and_a_catch_up_window() -> None:
    spec = SPEC.validate_python({"kind": "birthday"})
    due = due_in_zones(
        spec,
        country="CN",
        days_before=2,
        at=TEN,
        start=utc(2026, 12, 29),
        end=utc(2027, 1, 1),  # a scheduler that was down for three days
        zones=["Asia/Shanghai"],
    )
    assert due_ids(due) == [
        ("birthday:2026", date(2026, 12, 31), utc(2026, 12, 29, 2)),
        ("birthday:2027", date(2027, 1, 1), utc(2026, 12, 30, 2)),
        ("birthday:2027", date(2027, 1, 2), utc(2026, 12, 31, 2)),
    ]


def test_no_lunar_birthday_is_celebrated_in_a_leap_month() -> None:
    spec = SPEC.validate_python({"kind": "birthday", "calendar": "lunar"})
    args = {"country": "CN", "days_before": 0, "at": TEN, "zones": ["Asia/Shanghai"]}
    leap_first = utc(2025, 7, 25, 2)  # 闰六月初一
    assert due_in_zones(spec, **args, start=leap_first, end=leap_first + timedelta(minutes=1)) == []
    regular = utc(2025, 6, 25, 2)  # 六月初一
    assert len(due_in_zones(spec, **args, start=regular, end=regular + timedelta(minutes=1))) == 1


def test_lunar_birthdays_late_in_the_year_are_named_by_the_lunar_year() -> None:
    spec = SPEC.validate_python({"kind": "birthday", "calendar": "lunar"})
    start = utc(2027, 1, 15, 2)  # 腊月初八 of lunar 2026
    [due] = due_in_zones(
        spec,
        country="CN",
        days_before=0,
        at=TEN,
        start=start,
        end=start + timedelta(minutes=1),
        zones=["Asia/Shanghai"],
    )
    assert due.occurrence.occasion_id == "birthday:2026"


@pytest.mark.parametrize(
    ("start", "end", "days_before", "msg"),
    [
        (datetime(2026, 1, 1), utc(2026, 1, 2), 0, "aware"),  # noqa: DTZ001
        (utc(2026, 1, 2), utc(2026, 1, 1), 0, "ends before"),
        (utc(2026, 1, 1), utc(2026, 1, 2), -1, "days_before"),
    ],
)
def test_bad_windows_are_refused(
    start: datetime, end: datetime, days_before: int, msg: str
) -> None:
    with pytest.raises(ValueError, match=msg):
        due_occurrences(
            SPRING, country="CN", days_before=days_before, at=TEN, zone="UTC", start=start, end=end
        )
