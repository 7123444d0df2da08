"""birthday_on and members_due select the right real rows, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.calendar.occasions import CalendarSystem, OccasionSpec
from service.calendar.queries import birthday_on, member_zone_in, members_due
from service.calendar.triggers import due_in_zones
from service.members.models import Member

NOW = datetime(2026, 6, 18, 1, tzinfo=UTC)
GREGORIAN, LUNAR = CalendarSystem.GREGORIAN, CalendarSystem.LUNAR
SPEC = TypeAdapter(OccasionSpec)

MEMBERS: list[tuple[str, date | None, tuple[int, int] | None, str | None]] = [
    ("feb29", date(2000, 2, 29), None, None),
    ("feb28", date(1990, 2, 28), None, "Asia/Shanghai"),
    ("mar1", date(1985, 3, 1), None, None),
    ("aug15", date(1990, 8, 15), None, None),
    ("lunar_815_sh", None, (8, 15), "Asia/Shanghai"),
    ("lunar_815_ny", date(1992, 9, 11), (8, 15), "America/New_York"),
    ("lunar_815_default", None, (8, 15), None),
    ("lunar_229", None, (2, 29), "Asia/Shanghai"),
    ("lunar_230", None, (2, 30), "Asia/Shanghai"),
    ("lunar_601", None, (6, 1), "Asia/Shanghai"),
    ("nobody", None, None, "Asia/Shanghai"),
]


@pytest.fixture
async def members(session: AsyncSession) -> None:
    for external_id, birthday, lunar, zone in MEMBERS:
        session.add(
            Member(
                external_id=external_id,
                birthday=birthday,
                lunar_birth_month=lunar[0] if lunar else None,
                lunar_birth_day=lunar[1] if lunar else None,
                timezone=zone,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    await session.flush()


async def matching(session: AsyncSession, condition: ColumnElement[bool]) -> set[str]:
    return set(await session.scalars(select(Member.external_id).where(condition)))


@pytest.mark.usefixtures("members")
@pytest.mark.parametrize(
    ("local_date", "calendar", "expected"),
    [
        (date(2027, 2, 28), GREGORIAN, {"feb28", "feb29"}),  # Feb 29 on Feb 28 in 2027
        (date(2028, 2, 28), GREGORIAN, {"feb28"}),
        (date(2028, 2, 29), GREGORIAN, {"feb29"}),
        (date(2027, 3, 1), GREGORIAN, {"mar1"}),
        (date(2026, 8, 15), GREGORIAN, {"aug15"}),
        (date(2026, 9, 11), GREGORIAN, {"lunar_815_ny"}),
        # Lunar 8/15 of 2026 is 2026-09-25 (中秋).
        (date(2026, 9, 25), LUNAR, {"lunar_815_sh", "lunar_815_ny", "lunar_815_default"}),
        (date(2026, 9, 24), LUNAR, set()),
        # Lunar 2026-02 has 29 days: day-30 birthdays are kept on day 29, 2026-04-16.
        (date(2026, 4, 16), LUNAR, {"lunar_229", "lunar_230"}),
        (date(2026, 4, 17), LUNAR, set()),  # 三月初一
        (date(2025, 6, 25), LUNAR, {"lunar_601"}),  # 六月初一
        (date(2025, 7, 25), LUNAR, set()),  # 闰六月初一: not again
    ],
)
async def test_birthday_on(
    session: AsyncSession, local_date: date, calendar: CalendarSystem, expected: set[str]
) -> None:
    assert await matching(session, birthday_on(local_date, calendar)) == expected


ALL = {name for name, *_ in MEMBERS}
IN_SHANGHAI = {name for name, *_, zone in MEMBERS if zone == "Asia/Shanghai"}
NO_ZONE = {name for name, *_, zone in MEMBERS if zone is None}


@pytest.mark.usefixtures("members")
@pytest.mark.parametrize(
    ("zones", "default_zone", "expected"),
    [
        ({"Asia/Shanghai"}, "Asia/Shanghai", ALL - {"lunar_815_ny"}),
        ({"Asia/Shanghai"}, "UTC", IN_SHANGHAI),
        ({"UTC"}, "UTC", NO_ZONE),
        ({"UTC", "America/New_York"}, "Asia/Shanghai", {"lunar_815_ny"}),
        (set(), "UTC", set()),
    ],
)
async def test_member_zone_in(
    session: AsyncSession, zones: set[str], default_zone: str, expected: set[str]
) -> None:
    assert await matching(session, member_zone_in(zones, default_zone=default_zone)) == expected


async def due_now(
    session: AsyncSession, spec: dict[str, object], start: datetime, default_zone: str
) -> list[tuple[str, set[str]]]:
    """What a one-minute tick enrols: one statement per due group, no loop over members."""
    parsed = SPEC.validate_python(spec)
    groups = due_in_zones(
        parsed,
        country="CN",
        days_before=0,
        at=time(10),
        start=start,
        end=start + timedelta(minutes=1),
    )
    return [
        (
            g.occurrence.occasion_id,
            await matching(session, members_due(g, default_zone=default_zone)),
        )
        for g in groups
    ]


@pytest.mark.usefixtures("members")
async def test_a_lunar_birthday_is_due_at_ten_in_each_members_zone(session: AsyncSession) -> None:
    lunar = {"kind": "birthday", "calendar": "lunar"}
    shanghai_ten = datetime(2026, 9, 25, 2, tzinfo=UTC)
    assert await due_now(session, lunar, shanghai_ten, "Asia/Shanghai") == [
        ("birthday:2026", {"lunar_815_sh", "lunar_815_default"})
    ]
    new_york_ten = datetime(2026, 9, 25, 14, tzinfo=UTC)  # EDT
    assert await due_now(session, lunar, new_york_ten, "Asia/Shanghai") == [
        ("birthday:2026", {"lunar_815_ny"})
    ]
    assert await due_now(session, lunar, shanghai_ten + timedelta(minutes=1), "Asia/Shanghai") == []


@pytest.mark.usefixtures("members")
async def test_a_feb_29_birthday_is_due_on_feb_28_2027(session: AsyncSession) -> None:
    shanghai_ten = datetime(2027, 2, 28, 2, tzinfo=UTC)
    assert await due_now(session, {"kind": "birthday"}, shanghai_ten, "Asia/Shanghai") == [
        ("birthday:2027", {"feb28", "feb29"})
    ]


@pytest.mark.usefixtures("members")
async def test_a_holiday_is_due_for_everyone_in_the_zones(session: AsyncSession) -> None:
    spring = {"kind": "holiday", "name": "spring_festival"}
    shanghai_ten = datetime(2027, 2, 6, 2, tzinfo=UTC)
    [(occasion_id, found)] = await due_now(session, spring, shanghai_ten, "UTC")
    assert occasion_id == "spring_festival:2027"
    assert found == IN_SHANGHAI
