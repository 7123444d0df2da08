"""Report periods: local dates of the shop's zone cut into days, ISO weeks or months (pure),
and the same periods as a VALUES table of UTC instants for the report queries to join.

Bucketing happens against UTC bounds computed here, with the zone's real rules (DST included),
so SQLite, which has no time zones, buckets exactly like PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, column, values

from service.analytics.sql import epoch_of
from service.db import UtcDateTime
from service.errors import InvalidInput

MAX_PERIODS = 1000
EARLIEST = date(1970, 1, 1)
LATEST = date(9998, 12, 31)  # a month or a zone offset past it leaves the calendar


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, Monday to Sunday
    MONTH = "month"


@dataclass(frozen=True)
class Bucket:
    index: int
    start_date: date
    end_date: date  # inclusive, clipped to the report's range
    start_at: datetime  # UTC, local midnight of start_date
    end_at: datetime  # UTC, exclusive: local midnight after end_date


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def period_start(day: date, period: Period) -> date:
    if period == Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period == Period.MONTH:
        return day.replace(day=1)
    return day


def next_start(day: date, period: Period) -> date:
    if period == Period.DAY:
        return day + timedelta(days=1)
    if period == Period.WEEK:
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def check_range(first: date, last: date) -> None:
    for name, day in (("from", first), ("to", last)):
        if not EARLIEST <= day <= LATEST:
            msg = f"`{name}` must lie between {EARLIEST} and {LATEST}"
            raise InvalidInput([{"loc": ["query", name], "msg": msg}])
    if last < first:
        raise InvalidInput([{"loc": ["query", "to"], "msg": "`to` is before `from`"}])


def buckets(first: date, last: date, period: Period, zone: ZoneInfo) -> list[Bucket]:
    """The periods covering first..last (local dates, inclusive), the outer ones clipped."""
    check_range(first, last)
    out: list[Bucket] = []
    start = period_start(first, period)
    while start <= last:
        following = next_start(start, period)
        low, high = max(start, first), min(following - timedelta(days=1), last)
        out.append(
            Bucket(
                len(out),
                low,
                high,
                local_midnight(low, zone),
                local_midnight(high + timedelta(days=1), zone),
            )
        )
        if len(out) > MAX_PERIODS:
            raise InvalidInput(
                [{"loc": ["query", "period"], "msg": f"more than {MAX_PERIODS} periods"}]
            )
        start = following
    return out


def buckets_table(found: list[Bucket], name: str = "periods") -> Any:
    """(idx, start_at, end_at, end_s) rows to join orders against, as a CTE (SQLite does not
    take column names on a VALUES subquery)."""
    return (
        values(
            column("idx", Integer),
            column("start_at", UtcDateTime()),
            column("end_at", UtcDateTime()),
            column("end_s", BigInteger),
            name=name,
        )
        .data([(b.index, b.start_at, b.end_at, epoch_of(b.end_at)) for b in found])
        .cte(name)
    )
