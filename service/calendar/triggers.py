"""When calendar triggers fire: occurrences whose greeting is due in a window of UTC instants.

An occurrence on local date D fires at `at` o'clock local time on D − days_before. The local
time is a time zone's: the shop's (`due_occurrences`, one zone) or each member's
(`due_in_zones`). A time that does not exist on a DST change day (02:30 in New York on the
spring-forward Sunday) fires at the same wall time read with the offset before the change
(03:30 EDT); a time that happens twice fires the first time.

How a scheduler tick finds the members whose birthday greeting is due, without looping over
members: each tick covers [previous tick, now). For every IANA zone (about 600, or only the
zones the engine passes) and every local date around the window, `due_in_zones` computes the
fire instant and keeps the (date, zones) groups that fall in the window. With `at` 10:00 and a
one-minute tick, a group exists only in the minute where some zones reach 10:00 — about 40
minutes a day, one group of zones sharing a UTC offset each (two when the zones straddle the
date line) — and in every other minute the engine runs no query at all. For each group, one
statement selects the members: `queries.members_due(group, default_zone=…)` is
`timezone IN group.zones (or NULL, when the shop's zone is one of them) AND
birthday_on(group's date)`, which enrols them
all with the group's occasion id (`birthday:2027`) as the entry key. A missed tick is made up
by the next one, whose window is longer; the entry key keeps a re-run from enrolling twice.
Holidays, festivals and custom dates per member zone work the same way, without the birthday
condition.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from service.calendar.occasions import OccasionSpec, Occurrence, occurrences_between

# Local dates are at most a day from UTC dates (offsets run from -12:00 to +14:00).
ZONE_SLACK = timedelta(days=1)


@dataclass(frozen=True)
class Due:
    """An occurrence due at `fire_at` (UTC) for the members (or shop) in `zones`."""

    occurrence: Occurrence
    fire_at: datetime
    zones: frozenset[str]


@cache  # the installed zone database does not change while the process runs
def all_zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


@cache  # ZoneInfo caches instances too; this only spares the lookup
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def fire_at(local_date: date, *, days_before: int, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant an occurrence on local_date fires: `at` on local_date − days_before."""
    local = datetime.combine(local_date - timedelta(days=days_before), at, tzinfo=zone)
    return local.astimezone(UTC)


def _check_window(start: datetime, end: datetime, days_before: int) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the window needs aware datetimes")
    if end < start:
        raise ValueError("the window ends before it starts")
    if days_before < 0:
        raise ValueError("days_before must be zero or more")


def due_in_zones(
    spec: OccasionSpec,
    *,
    country: str,
    days_before: int,
    at: time,
    start: datetime,
    end: datetime,
    zones: Iterable[str] | None = None,
) -> list[Due]:
    """Occurrences firing in [start, end) in some of `zones` (default: every IANA zone)."""
    _check_window(start, end, days_before)
    lead = timedelta(days=days_before)
    first = (start.astimezone(UTC) - ZONE_SLACK + lead).date()
    last = (end.astimezone(UTC) + ZONE_SLACK + lead).date()
    groups: defaultdict[tuple[Occurrence, datetime], set[str]] = defaultdict(set)
    names = all_zones() if zones is None else tuple(zones)
    for occurrence in occurrences_between(spec, country=country, first=first, last=last):
        for name in names:
            due_at = fire_at(
                occurrence.local_date, days_before=days_before, at=at, zone=_zone(name)
            )
            if start <= due_at < end:
                groups[occurrence, due_at].add(name)
    found = [Due(o, due_at, frozenset(z)) for (o, due_at), z in groups.items()]
    return sorted(found, key=lambda d: (d.fire_at, d.occurrence.occasion_id, sorted(d.zones)))


def due_occurrences(
    spec: OccasionSpec,
    *,
    country: str,
    days_before: int,
    at: time,
    zone: str,
    start: datetime,
    end: datetime,
) -> list[Due]:
    """Occurrences firing in [start, end) at `at` in one time zone (the shop's)."""
    return due_in_zones(
        spec,
        country=country,
        days_before=days_before,
        at=at,
        start=start,
        end=end,
        zones=[zone],
    )
