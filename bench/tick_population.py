"""A shop of any size, built set-based: members, a journey, and due enrolments.

Members come from a number series (`generate_series` on PostgreSQL, a recursive CTE on SQLite)
in one `INSERT … SELECT` per chunk; enrolments go through the engine's own `enrol`, so they look
exactly like the ones triggers make. Every chunk commits on its own: loading a million members
never holds one long write transaction. Shared by `bench/tick.py` and the engine's concurrency
tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    FromClause,
    Integer,
    String,
    case,
    cast,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.db import JsonType, UtcDateTime
from service.journeys.enrolments import COLUMNS, LiveJourney
from service.journeys.models import (
    Enrolment,
    EnrolmentState,
    Journey,
    JourneyStatus,
    JourneyVersion,
)
from service.journeys.rule import JourneyRule
from service.members.models import Member

CHUNK = 100_000
CITIES = ("杭州", "上海", "上海", "北京", "深圳", "广州", "成都")  # by n mod 7
TWO_SENDS: dict[str, Any] = {
    "key": "scale-two-sends",
    "name": "Two messages in a row",
    "trigger": {"event": "order.paid"},
    "entry": {"policy": "once_per_member"},
    "steps": [
        {"id": "hello", "send": {"channel": "sms", "template": "scale/hello"}},
        {"id": "follow-up", "send": {"channel": "sms", "template": "scale/follow_up"}},
    ],
}


def numbers(session: AsyncSession, low: int, high: int) -> FromClause:
    """The integers low..high as a FROM with one column `n`."""
    if session.get_bind().dialect.name == "postgresql":
        return func.generate_series(low, high).table_valued("n").render_derived(name="numbers")
    first = select(literal(low, Integer).label("n")).cte("numbers", recursive=True)
    return first.union_all(select(first.c.n + 1).where(first.c.n < high))


def _member_rows(series: FromClause, now: datetime) -> Any:
    """Member `m<n>`: a city by n mod 7, 0–4 paid orders by n mod 5, ¥0–499 per order."""
    n = series.c.n
    at = literal(now, UtcDateTime())
    paid = n % 5
    last_paid = case((paid > 0, literal(now - timedelta(days=40), UtcDateTime())), else_=None)
    city = case(*((n % 7 == i, name) for i, name in enumerate(CITIES[:-1])), else_=CITIES[-1])
    return select(
        literal("m", String) + cast(n, String),
        city,
        paid,
        (n % 500) * 100 * paid,
        (n % 500) * 100,
        last_paid,
        last_paid,
        literal("unknown", String),
        literal("zh-CN", String),
        literal({}, JsonType),
        at,
        at,
    ).select_from(series)


MEMBER_COLUMNS = (
    "external_id",
    "city",
    "paid_orders",
    "total_spent",
    "average_order_value",
    "first_paid_at",
    "last_paid_at",
    "gender",
    "locale",
    "attributes",
    "created_at",
    "updated_at",
)


async def add_members(
    sessions: async_sessionmaker[AsyncSession], count: int, *, now: datetime
) -> None:
    """Members m1..m<count>, one committed INSERT … SELECT per chunk."""
    for low in range(1, count + 1, CHUNK):
        high = min(low + CHUNK - 1, count)
        async with sessions() as session, session.begin():
            rows = _member_rows(numbers(session, low, high), now)
            await session.execute(insert(Member).from_select(MEMBER_COLUMNS, rows))


async def add_journey(
    sessions: async_sessionmaker[AsyncSession], document: dict[str, Any], *, now: datetime
) -> LiveJourney:
    """An active journey at version 1 (stored as saving would, without the template check)."""
    rule = JourneyRule.model_validate(document)
    async with sessions() as session, session.begin():
        journey_id = await session.scalar(
            insert(Journey)
            .values(
                key=rule.key,
                name=rule.name,
                status=JourneyStatus.ACTIVE,
                latest_version=1,
                live_version=1,
                trigger_type=rule.trigger.type,
                priority=rule.priority,
                activated_at=now,
                created_at=now,
                updated_at=now,
            )
            .returning(Journey.id)
        )
        assert journey_id is not None
        await session.execute(
            insert(JourneyVersion).values(
                journey_id=journey_id, version=1, rule=rule.dump(), created_at=now
            )
        )
    return LiveJourney(id=journey_id, key=rule.key, version=1, rule=rule, activated_at=now)


async def enrol_members(
    sessions: async_sessionmaker[AsyncSession],
    journey: LiveJourney,
    *,
    members: int,
    due_every: int,
    now: datetime,
) -> None:
    """Enrol members 1..`members` (by id) as `enrol` would; only every `due_every`-th one is
    due at `now`. Of the rest, half wait a day ahead and half have completed, as in a shop
    whose journeys have run for a while."""
    for low in range(1, members + 1, CHUNK):
        high = min(low + CHUNK - 1, members)
        async with sessions() as session, session.begin():
            await session.execute(
                insert(Enrolment).from_select(
                    ENROLMENT_COLUMNS, _enrolment_rows(journey, low, high, due_every, now)
                )
            )


ENROLMENT_COLUMNS = (*COLUMNS, "ended_at")


def _enrolment_rows(
    journey: LiveJourney, low: int, high: int, due_every: int, now: datetime
) -> Any:
    at = literal(now, UtcDateTime())
    due = Member.id % due_every == 0
    done = ~due & (Member.id % 2 == 1)
    member = literal("member", String)
    return select(
        literal(journey.id, BigInteger),
        literal(journey.version, Integer),
        Member.id,
        member,
        member,
        literal(False),
        case((done, EnrolmentState.COMPLETED.value), else_=EnrolmentState.ACTIVE.value),
        case((done, len(journey.rule.steps)), else_=0),
        at,
        case((due, at), (done, None), else_=literal(now + timedelta(days=1), UtcDateTime())),
        literal(None, BigInteger),
        literal(None, BigInteger),
        literal(None, String),
        literal(0, BigInteger),
        literal({}, JsonType),
        at,
        at,
        case((done, at), else_=None),
    ).where(Member.id.between(low, high))
