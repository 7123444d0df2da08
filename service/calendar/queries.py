"""Calendar conditions as SQL over members: the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import ColumnElement, Integer, and_, cast, extract, false, or_

from service.calendar.birthdays import gregorian_birthdays_on, lunar_birthdays_on
from service.calendar.occasions import CalendarSystem, OccasionKind
from service.calendar.triggers import Due
from service.members.models import Member


def birthday_on(local_date: date, calendar: CalendarSystem) -> ColumnElement[bool]:
    """True for members whose birthday (in that calendar) is celebrated on local_date."""
    if calendar == CalendarSystem.LUNAR:
        lunar_days = lunar_birthdays_on(local_date)
        if lunar_days is None:  # a leap month: lunar birthdays are kept in the regular month
            return false()
        return and_(
            Member.lunar_birth_month == lunar_days.month,
            Member.lunar_birth_day.in_(lunar_days.days),
        )
    celebrated = gregorian_birthdays_on(local_date)
    # SQLite stores dates as text: extract() compiles to strftime() there, EXTRACT() on PostgreSQL.
    return and_(
        cast(extract("month", Member.birthday), Integer) == celebrated.month,
        cast(extract("day", Member.birthday), Integer).in_(celebrated.days),
    )


def member_zone_in(zones: Collection[str], *, default_zone: str) -> ColumnElement[bool]:
    """Members whose time zone, or the shop's default where they have none, is in `zones`."""
    in_zones = Member.timezone.in_(sorted(zones)) if zones else false()
    return or_(in_zones, Member.timezone.is_(None)) if default_zone in zones else in_zones


def members_due(due: Due, *, default_zone: str) -> ColumnElement[bool]:
    """Members an occurrence is due for: in its zones, and for birthdays born on its date."""
    in_zone = member_zone_in(due.zones, default_zone=default_zone)
    occurrence = due.occurrence
    if occurrence.kind != OccasionKind.BIRTHDAY or occurrence.calendar is None:
        return in_zone
    return and_(in_zone, birthday_on(occurrence.local_date, occurrence.calendar))
