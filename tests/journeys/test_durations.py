"""ISO 8601 durations and waits in the member's time zone, as tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.journeys.durations import WaitSpec, format_duration, parse_duration, resolve_wait

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P7D", timedelta(days=7)),
        ("PT2H", timedelta(hours=2)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT30M", timedelta(minutes=30)),
        ("PT90S", timedelta(seconds=90)),
        ("p3d", timedelta(days=3)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("7 days", "not an ISO 8601 duration"),
        ("P", "not an ISO 8601 duration"),
        ("PT", "not an ISO 8601 duration"),
        ("P1M", "months and years vary"),
        ("P1Y", "months and years vary"),
        ("-P1D", "not an ISO 8601 duration"),
        ("P1.5D", "not an ISO 8601 duration"),
        ("P4000D", "longer than ten years"),
        ("PT166754573H6662011827416256M", "longer than ten years"),
    ],
)
def test_bad_durations_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=1, hours=2), "P1DT2H"),
        (timedelta(minutes=30), "PT30M"),
        (timedelta(0), "P0D"),
    ],
)
def test_format_duration(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("wait", "arrived", "due"),
    [
        # a day later at 10:00, whether the order came in the morning or late at night
        (WaitSpec(timedelta(days=1), time(10)), sh(2025, 6, 18, 9, 0), sh(2025, 6, 19, 10, 0)),
        (WaitSpec(timedelta(days=1), time(10)), sh(2025, 6, 18, 23, 30), sh(2025, 6, 19, 10, 0)),
        # no whole days: the first 10:00 at or after arrival (+ the hours)
        (WaitSpec(None, time(10)), sh(2025, 6, 18, 9, 0), sh(2025, 6, 18, 10, 0)),
        (WaitSpec(None, time(10)), sh(2025, 6, 18, 10, 0), sh(2025, 6, 18, 10, 0)),
        (WaitSpec(None, time(10)), sh(2025, 6, 18, 10, 1), sh(2025, 6, 19, 10, 0)),
        (WaitSpec(timedelta(hours=2), time(10)), sh(2025, 6, 18, 9, 0), sh(2025, 6, 19, 10, 0)),
        # a plain duration is exact
        (WaitSpec(timedelta(days=7)), sh(2025, 6, 18, 9, 7), sh(2025, 6, 25, 9, 7)),
        (WaitSpec(timedelta(minutes=30)), sh(2025, 6, 18, 23, 50), sh(2025, 6, 19, 0, 20)),
        # until a local date, at a time (or midnight); a date that passed is due at once
        (WaitSpec(until=date(2025, 11, 11), at=time(9)), sh(2025, 11, 1), sh(2025, 11, 11, 9)),
        (WaitSpec(until=date(2025, 11, 11)), sh(2025, 11, 1), sh(2025, 11, 11)),
        (WaitSpec(until=date(2025, 11, 11)), sh(2025, 11, 12, 8), sh(2025, 11, 12, 8)),
    ],
)
def test_resolve_wait_in_shanghai(wait: WaitSpec, arrived: datetime, due: datetime) -> None:
    assert resolve_wait(wait, arrived_at=arrived.astimezone(UTC), zone=SH) == due


def test_resolve_wait_over_a_dst_change() -> None:
    # 2026-03-08 is the spring-forward Sunday in New York: 10:00 is EDT (UTC-4) that day
    arrived = datetime(2026, 3, 7, 12, 0, tzinfo=NY)
    due = resolve_wait(WaitSpec(timedelta(days=1), time(10)), arrived_at=arrived, zone=NY)
    assert due == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)
    # a time that does not exist that day reads with the offset before the change
    gap = resolve_wait(WaitSpec(timedelta(days=1), time(2, 30)), arrived_at=arrived, zone=NY)
    assert gap == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
