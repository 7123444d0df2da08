"""ISO 8601 durations and waits in the member's time zone (pure).

Durations are written `P7D`, `PT2H`, `P1W`, `P1DT12H`. Months and years are refused: they vary
in length, and a journey that waits "one month" should say how many days it means.

A wait resolves to the instant a step becomes due, from the instant the enrolment reached it:
- `for` alone: that much later, exactly.
- `for` with `at`: whole days are calendar days in the member's zone, so `{"for": "P1D",
  "at": "10:00"}` is "10:00 the next day" whether the order came at 09:00 or 23:00; the rest of
  the duration (hours, minutes) is added before that, and with no whole days the step waits
  for the first `at` at or after that moment.
- `at` alone: the first `at` at or after arrival.
- `until` a date: `at` (default 00:00) on that local date, or at once if that has passed.
A local time that does not exist on a DST change day reads with the offset before the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
LONGEST = timedelta(days=3660)


def parse_duration(text: str) -> timedelta:
    """`P1DT2H` → timedelta; ValueError with the reason otherwise."""
    match = DURATION.match(text.strip().upper())
    if match is None:
        if re.match(r"^P(\d+Y|\d+M|.*\dY)", text.strip().upper()):
            raise ValueError("months and years vary in length: write days, e.g. P30D")
        raise ValueError("not an ISO 8601 duration (e.g. P7D, PT2H, P1DT12H)")
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    try:
        value = timedelta(**parts)
    except OverflowError:
        value = timedelta.max
    if value > LONGEST:
        raise ValueError("longer than ten years")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest ISO 8601 form of a duration: `P1DT2H`, `PT30M`, `P0D`."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + (f"{days}D" if days or not clock else "") + (f"T{clock}" if clock else "")


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("duration", "a duration is a string such as P7D or PT2H")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", str(exc)) from None


def _time_of_day(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
        return time.fromisoformat(value.strip())
    raise PydanticCustomError("time_of_day", "not a time of day HH:MM (e.g. 10:00)")


Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION.pattern, "examples": ["P7D", "PT2H"]}),
]
TimeOfDay = Annotated[
    time,
    BeforeValidator(_time_of_day),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}),
]


@dataclass(frozen=True)
class WaitSpec:
    """A wait as a value: any of a duration, a local time of day, a local date."""

    delay: timedelta | None = None
    at: time | None = None
    until: date | None = None


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def resolve_wait(wait: WaitSpec, *, arrived_at: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a step with this wait becomes due, for an enrolment arriving then."""
    if wait.until is not None:
        return max(local_instant(wait.until, wait.at or time(0), zone), arrived_at)
    if wait.at is None:
        return arrived_at + (wait.delay or timedelta(0))
    delay = wait.delay or timedelta(0)
    moment = (arrived_at + timedelta(seconds=delay.seconds)).astimezone(zone)
    if delay.days:
        return local_instant(moment.date() + timedelta(days=delay.days), wait.at, zone)
    due = local_instant(moment.date(), wait.at, zone)
    if due < moment:
        due = local_instant(moment.date() + timedelta(days=1), wait.at, zone)
    return due
